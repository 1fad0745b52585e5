/**
 * Interrupts. Three ways reach a running cell:
 * - a synchronous script is stopped by SIGINT through vm's breakOnSigint;
 * - an awaiting cell is stopped by aborting its AbortController (its result races the abort);
 * - code resumed after an await (a token loop) calls checkInterrupt() at every await and loop
 *   iteration (the kernel inserts those calls), which reads a flag the socket thread sets even
 *   while this thread is busy.
 * Library code gets the cell's AbortSignal from currentCellSignal() and can stop cooperatively.
 *
 * SIGINT is sent only while a cell's script body runs, and that body cannot return until the
 * signal has broken it (enterScript/leaveScript, signalRunningScript). Why: Node's breakOnSigint
 * watchdog loses a SIGINT that arrives while it stops (as a script ends), and one that arrives
 * just after it kills the process (the default action is restored for a moment).
 */
import { cellStorage, currentCell } from "./context";

export class KeyboardInterrupt extends Error {
  constructor(message = "Interrupted") {
    super(message);
    this.name = "KeyboardInterrupt";
  }
}

/** Words of the shared interrupt buffer: the flag, and where the main thread is (below). */
const FLAG = 0, WHERE = 1;
const OUTSIDE = 0, IN_SCRIPT = 1, SIGNALLED = 2;

/** The buffer the kernel shares with the thread that may interrupt it. */
export function newInterruptBuffer(): SharedArrayBuffer {
  return new SharedArrayBuffer(8);
}

let flag: Int32Array = new Int32Array(newInterruptBuffer());
let onFlag: () => void = () => undefined;

/** The kernel shares the flag with the socket thread and says what to abort when it is set. */
export function installInterruptFlag(shared: SharedArrayBuffer, abortRunning: () => void): void {
  flag = new Int32Array(shared);
  onFlag = abortRunning;
}

/** Clears the flag and wakes the socket thread, which then does not need to send SIGINT. */
export function clearInterruptFlag(): void {
  Atomics.store(flag, FLAG, 0);
  Atomics.notify(flag, FLAG);
}

export function interruptPending(): boolean {
  return Atomics.load(flag, FLAG) !== 0;
}

/** First statement of a cell's script (under breakOnSigint): SIGINT may now be sent. */
export function enterScript(): void {
  Atomics.store(flag, WHERE, IN_SCRIPT);
}

/**
 * Last statement of a cell's script (also when it throws). If a SIGINT is already on its way,
 * waits for it inside the script, where the watchdog turns it into an exception; 2 s at most.
 */
export function leaveScript(): void {
  if (Atomics.compareExchange(flag, WHERE, IN_SCRIPT, OUTSIDE) !== SIGNALLED) return;
  for (const until = Date.now() + 2000; Date.now() < until;) { /* the signal ends this loop */ }
  Atomics.store(flag, WHERE, OUTSIDE);
}

/** After the script returned or was broken: nothing of it can still be signalled. */
export function scriptEnded(): void {
  Atomics.store(flag, WHERE, OUTSIDE);
}

/**
 * For the thread that interrupts (socket thread, runner watchdog), given the shared buffer:
 * sends SIGINT if a cell's script body is running, and says whether it did.
 */
export function signalRunningScript(shared: Int32Array): boolean {
  if (Atomics.compareExchange(shared, WHERE, IN_SCRIPT, SIGNALLED) !== IN_SCRIPT) return false;
  process.kill(process.pid, "SIGINT");
  return true;
}

/** The AbortSignal of the cell this code belongs to (undefined outside the kernel). */
export function currentCellSignal(): AbortSignal | undefined {
  return currentCell()?.controller.signal;
}

/** Throws KeyboardInterrupt if the cell this code belongs to was interrupted; else returns v. */
export function checkInterrupt<T>(v?: T): T | undefined {
  if (Atomics.load(flag, FLAG) !== 0) {
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
export const SCRIPT_BOUNDS_GLOBAL = "__nemotronLabScriptBounds";
export const SIGNAL_SYMBOL = Symbol.for("nemotron-lab.currentCellSignal");

export function installInterruptGlobals(): void {
  const g = globalThis as Record<string | symbol, unknown>;
  Object.defineProperty(g, CHECK_GLOBAL, { value: checkInterrupt, configurable: true });
  Object.defineProperty(g, SIGNAL_SYMBOL, { value: currentCellSignal, configurable: true });
  Object.defineProperty(g, SCRIPT_BOUNDS_GLOBAL, { value: { enter: enterScript, leave: leaveScript }, configurable: true });
}
