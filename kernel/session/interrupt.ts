/**
 * Interrupts. Three ways reach a running cell:
 * - a synchronous script is stopped by SIGINT through vm's breakOnSigint;
 * - an awaiting cell is stopped by aborting its AbortController (its result races the abort);
 * - code resumed after an await (a token loop) calls checkInterrupt() at every await and loop
 *   iteration (the kernel inserts those calls), which reads a flag the socket thread sets even
 *   while this thread is busy.
 * Library code gets the cell's AbortSignal from currentCellSignal() and can stop cooperatively.
 */
import { cellStorage, currentCell } from "./context";

export class KeyboardInterrupt extends Error {
  constructor(message = "Interrupted") {
    super(message);
    this.name = "KeyboardInterrupt";
  }
}

let flag: Int32Array = new Int32Array(new SharedArrayBuffer(4));
let onFlag: () => void = () => undefined;

/** The kernel shares the flag with the socket thread and says what to abort when it is set. */
export function installInterruptFlag(shared: SharedArrayBuffer, abortRunning: () => void): void {
  flag = new Int32Array(shared);
  onFlag = abortRunning;
}

/** Clears the flag and wakes the socket thread, which then does not need to send SIGINT. */
export function clearInterruptFlag(): void {
  Atomics.store(flag, 0, 0);
  Atomics.notify(flag, 0);
}

export function interruptPending(): boolean {
  return Atomics.load(flag, 0) !== 0;
}

/** The AbortSignal of the cell this code belongs to (undefined outside the kernel). */
export function currentCellSignal(): AbortSignal | undefined {
  return currentCell()?.controller.signal;
}

/** Throws KeyboardInterrupt if the cell this code belongs to was interrupted; else returns v. */
export function checkInterrupt<T>(v?: T): T | undefined {
  if (Atomics.load(flag, 0) !== 0) {
    clearInterruptFlag();
    onFlag();
  }
  const ctx = cellStorage.getStore();
  if (ctx && ctx.controller.signal.aborted) throw new KeyboardInterrupt();
  return v;
}

/** A promise that rejects with KeyboardInterrupt when `signal` aborts (never resolves). */
export function whenAborted(signal: AbortSignal): Promise<never> {
  const p = new Promise<never>((_, reject) => {
    const fail = () => reject(new KeyboardInterrupt());
    if (signal.aborted) fail();
    else signal.addEventListener("abort", fail, { once: true });
  });
  p.catch(() => undefined);
  return p;
}

/** The global names generated code and library code use; stable across copies of this package. */
export const CHECK_GLOBAL = "__nemotronLabCheckInterrupt";
export const SIGNAL_SYMBOL = Symbol.for("nemotron-lab.currentCellSignal");

export function installInterruptGlobals(): void {
  const g = globalThis as Record<string | symbol, unknown>;
  Object.defineProperty(g, CHECK_GLOBAL, { value: checkInterrupt, configurable: true });
  Object.defineProperty(g, SIGNAL_SYMBOL, { value: currentCellSignal, configurable: true });
}
