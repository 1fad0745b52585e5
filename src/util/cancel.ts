/**
 * The AbortSignal long library work listens to: the caller's, else the running notebook
 * cell's, which the kernel publishes under a well-known symbol. So an interrupt in Jupyter
 * stops a generation or a sweep even when the cell did not pass a signal.
 */
const CELL_SIGNAL = Symbol.for("nemotron-lab.currentCellSignal");

export function workSignal(explicit?: AbortSignal): AbortSignal | undefined {
  if (explicit) return explicit;
  const current = (globalThis as Record<symbol, unknown>)[CELL_SIGNAL];
  return typeof current === "function" ? (current as () => AbortSignal | undefined)() : undefined;
}
