/**
 * Stopping a headless run: Ctrl-C (SIGINT) and the per-cell timeout.
 * A cell is stopped the way the kernel stops one: SIGINT breaks synchronous code (vm's
 * breakOnSigint), the cell's AbortController stops awaiting code, and the shared interrupt flag
 * stops loops through the checkInterrupt() calls the kernel inserts. The timeout is kept by a
 * worker thread, which runs even while a cell keeps the main thread busy; when it fires it sets
 * the flag and sends SIGINT, marked as a timeout so the run goes on with an error in that cell.
 * A user's Ctrl-C stops the cell and the run (the pages are still written); a second one exits.
 */
import { Worker } from "worker_threads";
import type { CellContext } from "../../kernel/session/context";
import { clearInterruptFlag, installInterruptFlag, installInterruptGlobals, KeyboardInterrupt } from "../../kernel/session/interrupt";

/**
 * What the watchdog thread runs: state = [generation, timeout ms (0 = disarmed), fired, unclaimed
 * signal], firedAt = when it last sent SIGINT. The main thread's SIGINT listener claims the signal
 * (it may run after the cell ended, late on a loaded machine, or never when vm's breakOnSigint
 * took it), so a listener call with an unclaimed recent signal is the watchdog's, not the user's.
 */
const WATCHDOG = `
const { workerData } = require("worker_threads");
const state = new Int32Array(workerData.state), flag = new Int32Array(workerData.flag), firedAt = new Float64Array(workerData.firedAt);
for (;;) {
  const gen = Atomics.load(state, 0), ms = Atomics.load(state, 1);
  if (ms > 0 && Atomics.wait(state, 0, gen, ms) === "timed-out") {
    firedAt[0] = Date.now();
    Atomics.store(state, 2, 1);
    Atomics.store(state, 3, 1);
    Atomics.store(flag, 0, 1);
    process.kill(process.pid, "SIGINT");
    Atomics.wait(state, 0, gen);
  } else if (ms <= 0) Atomics.wait(state, 0, gen);
}`;

export class RunControl {
  private readonly flag = new SharedArrayBuffer(4);
  private readonly state = new Int32Array(new SharedArrayBuffer(16));
  private readonly firedAt = new Float64Array(new SharedArrayBuffer(8));
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
    this.arm(this.timeoutS ? Math.ceil(this.timeoutS * 1000) : 0);
    try {
      if (this.stopped) ctx.controller.abort(new KeyboardInterrupt());
      const value = await run();
      return { value, timedOut: Atomics.load(this.state, 2) === 1 };
    } finally {
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
      this.watchdog = new Worker(WATCHDOG, { eval: true, workerData: { state: this.state.buffer, flag: this.flag, firedAt: this.firedAt.buffer } });
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

  private sigint(): void {
    clearInterruptFlag();
    // The watchdog's (a timeout, not the user) when it sent one that no listener call claimed yet.
    if (Atomics.exchange(this.state, 3, 0) === 1 && Date.now() - this.firedAt[0] < 60_000) return this.abortCell();
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
