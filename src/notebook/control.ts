/**
 * Stopping a headless run: Ctrl-C (SIGINT) and the per-cell timeout.
 * A cell is stopped the way the kernel stops one: SIGINT breaks synchronous code (vm's
 * breakOnSigint), the cell's AbortController stops awaiting code, and the shared interrupt flag
 * stops loops through the checkInterrupt() calls the kernel inserts. The timeout is kept twice: a
 * timer on the main thread aborts an awaiting cell, and a worker thread, which runs even while a
 * cell keeps the main thread busy, sets the flag (instrumented loops stop) and only if the cell
 * still runs after a grace period sends SIGINT, as the kernel does. Either way the cell ends with
 * a timeout error and the run goes on.
 * A user's Ctrl-C stops the cell and the run (the pages are still written); a second one exits.
 */
import { Worker } from "worker_threads";
import type { CellContext } from "../../kernel/session/context";
import { clearInterruptFlag, installInterruptFlag, installInterruptGlobals, KeyboardInterrupt, newInterruptBuffer } from "../../kernel/session/interrupt";

/** How long a timed-out cell may take to stop on the interrupt flag before SIGINT is sent. */
const GRACE_MS = 500;

/**
 * What the watchdog thread runs: state = [generation, timeout ms (0 = disarmed), timed out]. Its
 * SIGINT goes only to a running cell script (signalRunningScript), where breakOnSigint takes it.
 */
const WATCHDOG = `
const { workerData } = require("worker_threads");
const { signalRunningScript } = require(${JSON.stringify(require.resolve("../../kernel/session/interrupt"))});
const state = new Int32Array(workerData.state), flag = new Int32Array(workerData.flag);
for (;;) {
  const gen = Atomics.load(state, 0), ms = Atomics.load(state, 1);
  if (ms > 0 && Atomics.wait(state, 0, gen, ms) === "timed-out") {
    Atomics.store(state, 2, 1);
    Atomics.store(flag, 0, 1);
    if (Atomics.wait(state, 0, gen, ${GRACE_MS}) === "timed-out") {
      signalRunningScript(flag);
      Atomics.wait(state, 0, gen);
    }
  } else if (ms <= 0) Atomics.wait(state, 0, gen);
}`;

export class RunControl {
  private readonly flag = newInterruptBuffer();
  private readonly state = new Int32Array(new SharedArrayBuffer(12));
  private watchdog?: Worker;
  private running?: CellContext;
  private userInterrupts = 0;
  private readonly onSigint = () => this.sigint();
  private readonly onAbort = () => this.stopRun();

  /** `signal` stops the run like Ctrl-C does (for callers of the API). */
  constructor(readonly timeoutS?: number, private readonly signal?: AbortSignal) {
    if (timeoutS !== undefined && !(timeoutS > 0)) throw new RangeError(`timeout must be a positive number of seconds, got ${timeoutS}`);
    installInterruptGlobals();
    installInterruptFlag(this.flag, () => this.abortCell());
    process.on("SIGINT", this.onSigint);
    signal?.addEventListener("abort", this.onAbort);
  }

  /** True once the user asked the run to stop. */
  get stopped(): boolean {
    return this.userInterrupts > 0 || !!this.signal?.aborted;
  }

  /** Runs one cell under the timeout; says whether the timeout stopped it. */
  async cell<T>(ctx: CellContext, run: () => Promise<T>): Promise<{ value: T; timedOut: boolean }> {
    this.running = ctx;
    const ms = this.timeoutS ? Math.ceil(this.timeoutS * 1000) : 0;
    this.arm(ms);
    // An awaiting cell leaves the main thread free: a plain timer stops it, no signal needed.
    const timer = ms > 0 ? setTimeout(() => { Atomics.store(this.state, 2, 1); this.abortCell(); }, ms) : undefined;
    try {
      if (this.stopped) ctx.controller.abort(new KeyboardInterrupt());
      const value = await run();
      return { value, timedOut: Atomics.load(this.state, 2) === 1 };
    } finally {
      clearTimeout(timer);
      this.arm(0);
      this.running = undefined;
      clearInterruptFlag();
    }
  }

  /** A cell ended in KeyboardInterrupt that was not a timeout: Ctrl-C broke synchronous code. */
  noteUserInterrupt(): void {
    if (this.userInterrupts === 0) this.userInterrupts = 1;
  }

  dispose(): void {
    process.off("SIGINT", this.onSigint);
    this.signal?.removeEventListener("abort", this.onAbort);
    void this.watchdog?.terminate();
    this.watchdog = undefined;
  }

  private arm(ms: number): void {
    if (ms > 0 && !this.watchdog) {
      this.watchdog = new Worker(WATCHDOG, { eval: true, workerData: { state: this.state.buffer, flag: this.flag } });
      this.watchdog.unref();
    }
    if (ms > 0) Atomics.store(this.state, 2, 0);
    Atomics.store(this.state, 1, ms);
    Atomics.add(this.state, 0, 1);
    Atomics.notify(this.state, 0);
  }

  private abortCell(): void {
    if (this.running && !this.running.controller.signal.aborted) this.running.controller.abort(new KeyboardInterrupt());
  }

  /** The user's Ctrl-C (the watchdog's SIGINT is always taken by the cell's breakOnSigint). */
  private sigint(): void {
    clearInterruptFlag();
    this.stopRun();
  }

  private stopRun(): void {
    if (++this.userInterrupts > 1 && !this.signal?.aborted) {
      process.stderr.write("\ninterrupted again: exiting now\n");
      process.exit(130);
    }
    this.abortCell();
  }
}
