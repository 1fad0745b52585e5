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

/** The error that interrupted work throws: the signal's reason when it is an Error, else an AbortError. */
export function abortError(signal: AbortSignal): Error {
  const reason = signal.reason;
  if (reason instanceof Error) return reason;
  const e = new Error(typeof reason === "string" ? reason : "the operation was interrupted");
  e.name = "AbortError";
  return e;
}
