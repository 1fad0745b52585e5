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
import { clearInterruptFlag, installInterruptFlag, installInterruptGlobals, KeyboardInterrupt } from "../../kernel/session/interrupt";

/**
 * What the watchdog thread runs: state = [generation, timeout ms (0 = disarmed), timed out,
 * unclaimed SIGINT, generation the SIGINT was sent for]. The main thread's SIGINT listener claims
 * the signal; it may run late (even during the next cell), so it stops a cell only if the signal
 * was sent for that cell.
 */
/** How long a timed-out cell may take to stop on the interrupt flag before SIGINT is sent. */
const GRACE_MS = 500;

const WATCHDOG = `
const { workerData } = require("worker_threads");
const state = new Int32Array(workerData.state), flag = new Int32Array(workerData.flag);
for (;;) {
  const gen = Atomics.load(state, 0), ms = Atomics.load(state, 1);
  if (ms > 0 && Atomics.wait(state, 0, gen, ms) === "timed-out") {
    Atomics.store(state, 2, 1);
    Atomics.store(flag, 0, 1);
    if (Atomics.wait(state, 0, gen, ${GRACE_MS}) === "timed-out") {
      Atomics.store(state, 4, gen);
      Atomics.store(state, 3, 1);
      process.kill(process.pid, "SIGINT");
      Atomics.wait(state, 0, gen);
    }
  } else if (ms <= 0) Atomics.wait(state, 0, gen);
}`;

export class RunControl {
  private readonly flag = new SharedArrayBuffer(4);
  private readonly state = new Int32Array(new SharedArrayBuffer(20));
  /** The generation of the running cell's armed timeout. */
  private armedGen = -1;
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
    this.armedGen = Atomics.load(this.state, 0);
    // An awaiting cell leaves the main thread free: a plain timer stops it, no signal needed.
    const timer = ms > 0 ? setTimeout(() => { Atomics.store(this.state, 2, 1); this.abortCell(); }, ms) : undefined;
    try {
      if (this.stopped) ctx.controller.abort(new KeyboardInterrupt());
      const value = await run();
      const timedOut = Atomics.load(this.state, 2) === 1;
      if (timedOut) await this.drainWatchdogSignal();
      return { value, timedOut };
    } finally {
      clearTimeout(timer);
      this.arm(0);
      this.armedGen = -1;
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

  /**
   * After the watchdog had to send SIGINT (uninstrumented synchronous code), waits until the
   * process listener claimed it, at most a second: when vm's breakOnSigint took the signal, Node
   * may still hand it to the next breakOnSigint script (a spurious interrupt of the next cell).
   */
  private async drainWatchdogSignal(): Promise<void> {
    for (let waited = 0; Atomics.load(this.state, 3) === 1 && waited < 1000; waited += 10) {
      await new Promise((r) => setTimeout(r, 10));
    }
    Atomics.store(this.state, 3, 0);
  }

  private abortCell(): void {
    if (this.running && !this.running.controller.signal.aborted) this.running.controller.abort(new KeyboardInterrupt());
  }

  private sigint(): void {
    clearInterruptFlag();
    // The watchdog's (a timeout, not the user): it stops the cell it was sent for, if still running.
    if (Atomics.exchange(this.state, 3, 0) === 1) {
      if (Atomics.load(this.state, 4) === this.armedGen) this.abortCell();
      return;
    }
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
