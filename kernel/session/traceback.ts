/**
 * Errors as Jupyter shows them: ename, evalue and traceback lines. Runtime stack frames in
 * generated code are mapped back to "cell N:line:col" and the offending line is quoted; type errors
 * point at the cell's own lines the same way. Frames of the kernel itself are dropped.
 */
import { inspect } from "util";
import type { Diagnostic } from "tslab/dist/converter";
import type { PositionMap } from "./sourcemap";

export interface CellError {
  ename: string;
  evalue: string;
  traceback: string[];
}

const RED = "\x1b[31m";
const BOLD = "\x1b[1m";
const CYAN = "\x1b[36m";
const RESET = "\x1b[0m";

/** "  3 | const x: number = 'a';" plus a caret line under the column (both 1-based in the text). */
function quote(lines: string[], line: number, column: number, width = 1): string[] {
  const text = lines[line];
  if (text === undefined) return [];
  const no = String(line + 1);
  return [
    `${CYAN}${no} |${RESET} ${text}`,
    `${" ".repeat(no.length)} | ${" ".repeat(Math.max(0, column))}${RED}${"^".repeat(Math.max(1, width))}${RESET}`,
  ];
}

export function formatDiagnostics(diags: Diagnostic[], code: string, label: string): CellError {
  const lines = code.split("\n");
  const traceback: string[] = [];
  for (const d of diags) {
    const where = d.fileName ? `${d.fileName}:${d.start.line + 1}:${d.start.character + 1}` : `${label}:${d.start.line + 1}:${d.start.character + 1}`;
    traceback.push(`${BOLD}${where}${RESET} - ${RED}error${RESET} TS${d.code}: ${d.messageText}`);
    if (!d.fileName) {
      const width = d.end.line === d.start.line ? d.end.character - d.start.character : 1;
      traceback.push(...quote(lines, d.start.line, d.start.character, width));
    }
  }
  const first = diags[0];
  return {
    ename: "TSError",
    evalue: first ? `${diags.length > 1 ? `${diags.length} errors; first: ` : ""}TS${first.code}: ${first.messageText}` : "type error",
    traceback,
  };
}

export interface SourceInfo {
  label: string;
  lines: string[];
  map?: PositionMap;
  firstLineShift: number;
  /** Generated lines; a frame past them is the wrapper's own call, not user code. */
  generatedLines: number;
}

const FRAME = /(__nemotron_lab_cell_\d+__\.js):(\d+):(\d+)/;

export function formatError(e: unknown, source: (file: string) => SourceInfo | undefined): CellError {
  if (!(e instanceof Error)) {
    const text = inspect(e);
    return { ename: "Uncaught", evalue: text, traceback: [`${RED}Uncaught${RESET} ${text}`] };
  }
  const ename = e.name || e.constructor?.name || "Error";
  const evalue = e.message ?? "";
  const head = `${RED}${BOLD}${ename}${RESET}${evalue ? `: ${evalue}` : ""}`;
  if (ename === "KeyboardInterrupt") return { ename, evalue, traceback: [head] };
  const frames = String(e.stack ?? "").split("\n").filter((l) => /^\s+at /.test(l));
  const lastCell = frames.reduce((acc, l, i) => (FRAME.test(l) ? i : acc), -1);
  const kept = lastCell >= 0 ? frames.slice(0, lastCell + 1) : frames.filter((l) => !l.includes("node:internal"));
  const out: string[] = [head];
  let quoted = false;
  for (const f of kept) {
    const m = FRAME.exec(f);
    if (!m) {
      out.push(f);
      continue;
    }
    const src = source(m[1]);
    const genLine = Number(m[2]) - 1;
    if (src && genLine >= src.generatedLines) continue;
    const genCol = Number(m[3]) - 1 - (genLine === 0 ? src?.firstLineShift ?? 0 : 0);
    const pos = src?.map?.lookup(genLine, Math.max(0, genCol));
    if (!src || !pos) {
      out.push(f.replace(FRAME, src ? `${src.label}` : "cell"));
      continue;
    }
    out.push(f.replace(/at Proxy\./, "at ").replace(FRAME, `${CYAN}${src.label}:${pos.line + 1}:${pos.column + 1}${RESET}`));
    if (!quoted) {
      // The innermost frame in a cell is where the user should look.
      out.push(...quote(src.lines, pos.line, pos.column).map((l) => `    ${l}`));
      quoted = true;
    }
  }
  return { ename, evalue, traceback: out };
}
