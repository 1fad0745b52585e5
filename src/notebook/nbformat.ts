/**
 * Jupyter notebooks on disk (nbformat 4): the types of cells and outputs, reading with errors that
 * name the file and the field, and writing executed copies as nbformat 4.5 (cell ids required).
 */
import { randomUUID } from "crypto";
import * as fs from "fs";

export type MultilineString = string | string[];
export type MimeBundle = Record<string, unknown>;

export type Output =
  | { output_type: "stream"; name: "stdout" | "stderr"; text: MultilineString }
  | { output_type: "display_data"; data: MimeBundle; metadata: Record<string, unknown> }
  | { output_type: "execute_result"; execution_count: number | null; data: MimeBundle; metadata: Record<string, unknown> }
  | { output_type: "error"; ename: string; evalue: string; traceback: string[] };

export interface CodeCell {
  cell_type: "code";
  id?: string;
  metadata: Record<string, unknown>;
  source: MultilineString;
  outputs: Output[];
  execution_count: number | null;
}

export interface TextCell {
  cell_type: "markdown" | "raw";
  id?: string;
  metadata: Record<string, unknown>;
  source: MultilineString;
  attachments?: Record<string, MimeBundle>;
}

export type Cell = CodeCell | TextCell;

export interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, unknown> & { kernelspec?: { name: string; display_name?: string; language?: string } };
  cells: Cell[];
}

export class NotebookError extends Error {
  override readonly name = "NotebookError";
}

/** A multiline string field as one string. */
export function joinSource(s: MultilineString | undefined): string {
  return Array.isArray(s) ? s.join("") : s ?? "";
}

/** Reads and checks a notebook; errors name the file and what is wrong. */
export function readNotebook(file: string): Notebook {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new NotebookError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let nb: Notebook;
  try {
    nb = JSON.parse(text);
  } catch (e) {
    throw new NotebookError(`${file}: not JSON (${(e as Error).message})`);
  }
  if (!nb || typeof nb !== "object") throw new NotebookError(`${file}: expected a notebook object`);
  if (nb.nbformat !== 4) throw new NotebookError(`${file}: nbformat ${JSON.stringify(nb.nbformat)}; only nbformat 4 notebooks can run`);
  if (!Array.isArray(nb.cells)) throw new NotebookError(`${file}: field "cells" must be an array`);
  nb.cells.forEach((c, i) => {
    if (!c || !["code", "markdown", "raw"].includes(c.cell_type)) {
      throw new NotebookError(`${file}: cells[${i}].cell_type is ${JSON.stringify(c?.cell_type)}; expected "code", "markdown" or "raw"`);
    }
    if (typeof c.source !== "string" && !(Array.isArray(c.source) && c.source.every((l) => typeof l === "string"))) {
      throw new NotebookError(`${file}: cells[${i}].source must be a string or a list of strings`);
    }
  });
  nb.metadata ??= {};
  return nb;
}

const CELL_ID = /^[a-zA-Z0-9-_]{1,64}$/;

/**
 * A copy upgraded to nbformat 4.5: every cell has a unique, valid id (kept where it already has
 * one), metadata objects, and code cells have outputs and execution_count fields.
 */
export function toV45(nb: Notebook): Notebook {
  const seen = new Set<string>();
  const cells = nb.cells.map((c): Cell => {
    let id = c.id && CELL_ID.test(c.id) && !seen.has(c.id) ? c.id : randomUUID().slice(0, 8);
    while (seen.has(id)) id = randomUUID().slice(0, 8);
    seen.add(id);
    const base = { id, metadata: c.metadata ?? {}, source: c.source };
    if (c.cell_type === "code") return { ...base, cell_type: "code", outputs: c.outputs ?? [], execution_count: c.execution_count ?? null };
    return { ...base, cell_type: c.cell_type, ...(c.attachments ? { attachments: c.attachments } : {}) };
  });
  return { nbformat: 4, nbformat_minor: Math.max(5, nb.nbformat_minor ?? 0), metadata: nb.metadata ?? {}, cells };
}

/** Writes a notebook as JSON the way Jupyter does (1-space indent, trailing newline). */
export function writeNotebook(file: string, nb: Notebook): void {
  fs.writeFileSync(file, `${JSON.stringify(nb, null, 1)}\n`);
}

/** A string as nbformat's list of lines, each keeping its "\n". */
export function splitLines(text: string): string[] {
  return text.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

/** The code cells of a notebook with their index among code cells (1-based, as the runner counts). */
export function codeCells(nb: Notebook): CodeCell[] {
  return nb.cells.filter((c): c is CodeCell => c.cell_type === "code");
}

export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/** Counts the plotly figures among a notebook's outputs. */
export function countPlots(nb: Notebook): number {
  const isPlot = (o: Output) => "data" in o && o.data[PLOTLY_MIME] !== undefined;
  return codeCells(nb).reduce((n, c) => n + c.outputs.filter(isPlot).length, 0);
}
