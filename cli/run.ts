/**
 * nemotron-lab run NOTEBOOK.ipynb... [--out DIR] [--param NAME=VALUE]... [--timeout S]
 * Executes notebooks headlessly on the kernel's own session (no Jupyter, no Python) and writes
 * the executed .ipynb, one HTML page each and an index into DIR (default out/). One line per cell
 * as it runs; on an error the pages are still written and the command exits 1 naming the
 * notebook, the cell and the error; Ctrl-C stops the run, writes what ran and exits 130.
 */
import * as fs from "fs";
import * as path from "path";
import { realStdoutWrite } from "../kernel/session/host";
import { NotebookRunner, type CellProgress, type NotebookRun } from "../src/notebook/execute";
import { NotebookError } from "../src/notebook/nbformat";
import { parseParam } from "../src/notebook/params";
import { writeReport, type IndexOptions, type ReportFiles } from "../src/notebook/report";
import { numberFlag, parse, UsageError } from "./args";
import type { Command } from "./command";

export interface TourOptions {
  out: string;
  params?: [string, string][];
  timeoutS?: number;
  /** Index page title, intro and figures; `summary` may add figures once the notebooks ran. */
  index?: Omit<IndexOptions, "generated">;
  /** Print a line per cell (the terminal gets a live "running" line as well). */
  quiet?: boolean;
}

export interface TourResult {
  runs: NotebookRun[];
  files: ReportFiles;
  interrupted: boolean;
}

/** The notebooks named on the command line; a folder stands for the .ipynb files in it. */
export function notebookFiles(args: string[]): string[] {
  const files: string[] = [];
  for (const a of args) {
    if (fs.existsSync(a) && fs.statSync(a).isDirectory()) {
      files.push(...fs.readdirSync(a).filter((f) => f.endsWith(".ipynb")).sort().map((f) => path.join(a, f)));
    } else if (!a.endsWith(".ipynb")) {
      throw new UsageError(`${a}: expected a .ipynb notebook or a folder of them`);
    } else if (!fs.existsSync(a)) {
      throw new NotebookError(`${a}: no such notebook`);
    } else files.push(a);
  }
  if (!files.length) throw new UsageError(`no notebooks found in ${args.join(" ")}`);
  return files;
}

/** The one-line view of a cell's source. */
function firstLine(source: string): string {
  const line = source.split("\n").find((l) => l.trim() && !l.trim().startsWith("//")) ?? source.split("\n")[0];
  return line.trim().slice(0, 60);
}

function progressPrinter(tty: boolean): (p: CellProgress) => void {
  const width = (p: CellProgress) => String(p.total).length;
  return (p) => {
    const tag = `  ${p.notebook} [${String(p.cell).padStart(width(p))}/${p.total}]`;
    if (p.phase === "start") {
      if (tty) realStdoutWrite(`${tag} ...      ${firstLine(p.source)}`);
      return;
    }
    const status = p.status === "ok" ? "ok   " : p.status === "error" ? "ERROR" : "STOP ";
    const time = `${p.seconds!.toFixed(2)} s`.padStart(8);
    const err = p.error ? `  -> ${p.error.ename}: ${p.error.evalue.split("\n")[0].slice(0, 120)}` : "";
    realStdoutWrite(`${tty ? "\r\x1b[K" : ""}${tag} ${status}${time}  ${firstLine(p.source)}${err}\n`);
  };
}

/** Runs notebooks and writes the report: what both `run` and `start` do. */
export async function runNotebooks(files: string[], o: TourOptions): Promise<TourResult> {
  const runner = new NotebookRunner({
    timeoutS: o.timeoutS,
    params: o.params,
    onProgress: o.quiet ? undefined : progressPrinter(!!process.stdout.isTTY),
  });
  const runs: NotebookRun[] = [];
  try {
    const notebooks = files.map((f) => runner.prepare(f));
    for (let i = 0; i < files.length && !runner.stopped; i++) {
      if (!o.quiet) realStdoutWrite(`${path.basename(files[i])}\n`);
      runs.push(await runner.run(files[i], notebooks[i]));
    }
  } finally {
    runner.dispose();
  }
  const files_ = writeReport(o.out, runs, o.index);
  return { runs, files: files_, interrupted: runner.stopped || runs.some((r) => r.status === "interrupted") };
}

/** What a failed or interrupted run says on stderr, one line per notebook that stopped. */
export function failureLines(result: TourResult): string[] {
  return result.runs.filter((r) => r.status !== "ok").map((r) =>
    `${r.file}: ${r.status === "interrupted" ? "interrupted" : "error"} in cell ${r.error!.cell}: ${r.error!.ename}: ${r.error!.evalue.split("\n")[0]}`);
}

/**
 * tslab's TypeScript compiler keeps file watchers open even after close(), which would keep the
 * process alive: exit once the command has returned and set the exit code.
 */
export function exitWhenDone(): void {
  setTimeout(() => process.exit(), 0).unref();
}

export async function runCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    out: { type: "string" },
    param: { type: "string", multiple: true },
    timeout: { type: "string" },
  }, ["NOTEBOOK.ipynb"]);
  const timeoutS = numberFlag("timeout", values.timeout as string | undefined);
  if (timeoutS !== undefined && timeoutS <= 0) throw new UsageError(`--timeout must be a positive number of seconds, got ${timeoutS}`);
  const params = ((values.param as unknown as string[] | undefined) ?? []).map((p) => {
    try {
      return parseParam(p);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  });
  const files = notebookFiles(positionals);
  const out = (values.out as string | undefined) ?? "out";
  const result = await runNotebooks(files, { out, params, timeoutS });
  exitWhenDone();
  const cells = result.runs.reduce((n, r) => n + r.cellsRun, 0);
  realStdoutWrite(`\n${result.runs.length} notebook(s), ${cells} cells run; report: ${result.files.index}\n`);
  for (const line of failureLines(result)) process.stderr.write(`nemotron-lab run: ${line}\n`);
  if (result.interrupted) return 130;
  return result.runs.every((r) => r.status === "ok") ? 0 : 1;
}

export const command: Command = {
  name: "run",
  summary: "execute notebooks headlessly on our kernel, write the executed .ipynb and an HTML report",
  usage: `nemotron-lab run NOTEBOOK.ipynb|DIR... [--out DIR] [--param NAME=VALUE]... [--timeout S]

--out      where the executed notebooks and pages go (default out/)
--param    replace the value of \`const NAME\` where a code cell first declares it (e.g. MODEL)
--timeout  stop a cell that runs longer than S seconds`,
  example: "nemotron-lab run notebooks/01-checkpoint-tour.ipynb --out /tmp/report",
  run: runCommand,
};
