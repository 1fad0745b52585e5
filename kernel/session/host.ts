/**
 * What cell code needs from the process it runs in, for any front end (the Jupyter kernel, the
 * headless notebook runner): console output, displays and progress bars routed to the cell that
 * produced them, and errors thrown from a cell's timers reported in that cell.
 */
import { inspect as utilInspect } from "util";
import { ProgressDisplay, setDisplaySink } from "../../src/display/display";
import { setProgressSink } from "../../src/util/progress";
import { currentCell } from "./context";
import { formatError } from "./traceback";

/** The process's own stdout/stderr, before routing: for diagnostics that must not land in a cell. */
export const realStdoutWrite = process.stdout.write.bind(process.stdout);
export const realStderrWrite = process.stderr.write.bind(process.stderr);

/**
 * Routes process.stdout/stderr writes made by cell code to its cell's outlet (outside a cell they
 * go to the real stream), and reports uncaught errors and rejections in the cell that caused them
 * (`log` gets those with no cell). Returns what undoes it.
 */
export function routeProcessOutput(log: (text: string) => void): () => void {
  const before = { out: process.stdout.write, err: process.stderr.write };
  const route = (name: "stdout" | "stderr", real: typeof realStdoutWrite) =>
    ((chunk: unknown, encoding?: unknown, cb?: unknown) => {
      const cell = currentCell();
      if (!cell) return real(chunk as string, encoding as BufferEncoding, cb as () => void);
      cell.outlet.stream(name, typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString(typeof encoding === "string" ? (encoding as BufferEncoding) : "utf8"));
      const done = typeof encoding === "function" ? encoding : cb;
      if (typeof done === "function") process.nextTick(done as () => void);
      return true;
    }) as typeof process.stdout.write;
  process.stdout.write = route("stdout", realStdoutWrite);
  process.stderr.write = route("stderr", realStderrWrite);
  // A cell may throw from a timer or leave a rejected promise: report it, keep serving.
  const report = (what: string) => (e: unknown) => {
    const cell = currentCell();
    const err = formatError(e, () => undefined);
    if (cell) cell.outlet.stream("stderr", `${what}: ${err.traceback.join("\n")}\n`);
    else log(`${what}: ${utilInspect(e)}`);
  };
  const onException = report("Uncaught exception"), onRejection = report("Unhandled promise rejection");
  process.on("uncaughtException", onException);
  process.on("unhandledRejection", onRejection);
  return () => {
    process.stdout.write = before.out;
    process.stderr.write = before.err;
    process.off("uncaughtException", onException);
    process.off("unhandledRejection", onRejection);
  };
}

/** display(), clearOutput() and progress bars of library code go to the current cell's outlet; returns the undo. */
export function installDisplaySinks(): () => void {
  setDisplaySink({
    display: (bundle, metadata, displayId) => currentCell()?.outlet.displayData(bundle, metadata, displayId),
    update: (bundle, metadata, displayId) => currentCell()?.outlet.updateDisplayData(bundle, metadata, displayId),
    clear: (wait) => currentCell()?.outlet.clearOutput(wait),
  });
  setProgressSink({
    start: (label, total) => {
      const bar = new ProgressDisplay(label, total);
      return { update: (done, note) => bar.update(done, note), finish: () => bar.finish() };
    },
  });
  return () => {
    setDisplaySink(undefined);
    setProgressSink(undefined);
  };
}
