/**
 * Executes notebooks headlessly on the kernel's own session code (kernel/session: the TypeScript
 * cell converter, the executor, interrupts), in this process: no Jupyter, no Python, no sockets.
 * Each notebook gets a fresh namespace and runs with its folder as the working directory, as a
 * Jupyter kernel would; cells run top to bottom and the run stops at the first error (a cell past
 * the timeout is one; cells tagged "raises-exception" may fail, as in nbclient) or at Ctrl-C.
 */
import * as path from "path";
import { mimeBundleOf } from "../display/display";
import { CommManager } from "../../kernel/session/comms";
import type { CellContext } from "../../kernel/session/context";
import { Executor } from "../../kernel/session/executor";
import { installGlobals } from "../../kernel/session/globals";
import { installDisplaySinks, realStderrWrite, routeProcessOutput } from "../../kernel/session/host";
import { RunControl } from "./control";
import { applyParams } from "./params";
import { CellOutputs, DisplayIndex } from "./outputs";
import { countPlots, joinSource, readNotebook, toV45, type CodeCell, type Notebook } from "./nbformat";

export interface CellProgress {
  notebook: string;
  /** The code cell's number (1-based; its execution count and "cell N" in tracebacks). */
  cell: number;
  total: number;
  source: string;
  phase: "start" | "done";
  status?: "ok" | "error" | "interrupted";
  seconds?: number;
  error?: { ename: string; evalue: string };
}

export interface NotebookRun {
  /** The notebook's file name without .ipynb. */
  name: string;
  file: string;
  /** The executed notebook (nbformat 4.5). */
  notebook: Notebook;
  codeCells: number;
  cellsRun: number;
  plots: number;
  seconds: number;
  status: "ok" | "error" | "interrupted";
  /** Where the run stopped. */
  error?: { cell: number; ename: string; evalue: string };
}

export interface RunnerOptions {
  /** Per-cell limit in seconds; a cell past it is stopped and fails with CellTimeoutError. */
  timeoutS?: number;
  /** Stops the run as Ctrl-C does. */
  signal?: AbortSignal;
  /** `--param NAME=VALUE` pairs applied to every notebook's first code cell. */
  params?: [string, string][];
  onProgress?: (p: CellProgress) => void;
}

/**
 * Runs notebooks one after another in this process. While it exists, console output, displays and
 * progress bars of cell code go to the running cell; dispose() gives the process back.
 */
export class NotebookRunner {
  private readonly control: RunControl;
  private readonly undo: Array<() => void> = [];
  /**
   * One session per notebook folder, reset between notebooks: a fresh namespace each time, while
   * the TypeScript compiler (a second to start) is made once. Its file watchers are not all
   * released by close(), so a command using the runner exits explicitly when done.
   */
  private readonly executors = new Map<string, Executor>();

  constructor(private readonly options: RunnerOptions = {}) {
    this.control = new RunControl(options.timeoutS, options.signal);
    this.undo.push(routeProcessOutput((t) => void realStderrWrite(`[nemotron-lab run] ${t}\n`)));
    this.undo.push(installDisplaySinks());
    // No front end holds the other end of a comm in a headless run; widgets render as text.
    installGlobals(new CommManager(() => undefined));
  }

  get stopped(): boolean {
    return this.control.stopped;
  }

  dispose(): void {
    this.control.dispose();
    for (const e of this.executors.values()) e.close();
    this.executors.clear();
    for (const u of this.undo.splice(0).reverse()) u();
  }

  /** Reads a notebook and applies the parameters: errors in the file show before anything runs. */
  prepare(file: string): Notebook {
    const nb = toV45(readNotebook(file));
    applyParams(nb, this.options.params ?? [], file);
    return nb;
  }

  async run(file: string, nb: Notebook = this.prepare(file)): Promise<NotebookRun> {
    const name = path.basename(file).replace(/\.ipynb$/, "");
    const cells = nb.cells.filter((c): c is CodeCell => c.cell_type === "code");
    for (const c of cells) {
      c.outputs = [];
      c.execution_count = null;
    }
    const started = Date.now();
    const cwd = process.cwd();
    const dir = path.dirname(path.resolve(file));
    let executor = this.executors.get(dir);
    if (!executor) this.executors.set(dir, (executor = new Executor(dir)));
    executor.reset();
    const displays = new DisplayIndex();
    const run: NotebookRun = { name, file, notebook: nb, codeCells: cells.length, cellsRun: 0, plots: 0, seconds: 0, status: "ok" };
    process.chdir(dir);
    try {
      for (let i = 0; i < cells.length && run.status === "ok"; i++) {
        if (this.control.stopped) {
          run.status = "interrupted";
          run.error = { cell: i + 1, ename: "KeyboardInterrupt", evalue: "stopped before this cell" };
          break;
        }
        await this.runCell(executor, cells[i], i + 1, cells.length, name, displays, run);
      }
    } finally {
      process.chdir(cwd);
    }
    run.plots = countPlots(nb);
    run.seconds = (Date.now() - started) / 1000;
    return run;
  }

  private async runCell(executor: Executor, cell: CodeCell, n: number, total: number, notebook: string,
    displays: DisplayIndex, run: NotebookRun): Promise<void> {
    const code = joinSource(cell.source);
    if (code.trim() === "") return;  // as nbclient: empty cells are not executed
    const report = (p: Omit<CellProgress, "notebook" | "cell" | "total" | "source">) =>
      this.options.onProgress?.({ notebook, cell: n, total, source: code, ...p });
    report({ phase: "start" });
    const outlet = new CellOutputs(displays);
    cell.outputs = outlet.outputs;
    cell.execution_count = n;
    const ctx: CellContext = { count: n, controller: new AbortController(), outlet };
    const t0 = new Date();
    const { value: outcome, timedOut } = await this.control.cell(ctx, () => executor.run(code, ctx));
    const seconds = (Date.now() - t0.getTime()) / 1000;
    cell.metadata = { ...cell.metadata, execution: { "iopub.execute_input": t0.toISOString(), "shell.execute_reply": new Date().toISOString() } };
    run.cellsRun++;
    if (outcome.status === "ok") {
      if (outcome.hasValue) outlet.executeResult(n, mimeBundleOf(outcome.value));
      return report({ phase: "done", status: "ok", seconds });
    }
    let { ename, evalue } = outcome;
    if (timedOut) {
      ename = "CellTimeoutError";
      evalue = `cell ${n} ran longer than the ${this.options.timeoutS} s timeout and was stopped`;
    }
    outlet.error(ename, evalue, timedOut ? [`${ename}: ${evalue}`, ...outcome.traceback.slice(1)] : outcome.traceback);
    const interrupted = ename === "KeyboardInterrupt";
    if (interrupted) this.control.noteUserInterrupt();
    const allowed = !interrupted && ((cell.metadata.tags as string[] | undefined) ?? []).includes("raises-exception");
    report({ phase: "done", status: interrupted ? "interrupted" : "error", seconds, error: { ename, evalue } });
    if (allowed) return;
    run.status = interrupted ? "interrupted" : "error";
    run.error = { cell: n, ename, evalue };
  }
}
