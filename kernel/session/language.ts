/**
 * Editor services on cells: completion, inspection and is_complete. Jupyter counts cursor
 * positions in Unicode code points; JavaScript strings index UTF-16 units, so positions are
 * converted both ways here.
 */
import * as ts from "typescript";
import type { CellConverter } from "./converter";
import { escapeHtml } from "../../src/util/format";

export function codePointToUtf16(s: string, cp: number): number {
  let units = 0;
  let count = 0;
  for (const ch of s) {
    if (count >= cp) break;
    units += ch.length;
    count++;
  }
  return units;
}

export function utf16ToCodePoint(s: string, units: number): number {
  return [...s.slice(0, units)].length;
}

export interface Completion {
  matches: string[];
  cursorStart: number;
  cursorEnd: number;
}

export function complete(conv: CellConverter, code: string, cursorPos: number): Completion {
  const pos = codePointToUtf16(code, cursorPos);
  const info = conv.complete(code, pos);
  return {
    matches: info.candidates,
    cursorStart: utf16ToCodePoint(code, info.start),
    cursorEnd: utf16ToCodePoint(code, info.end),
  };
}

export interface Inspection {
  found: boolean;
  data: Record<string, string>;
}

/**
 * Where to ask for quick info. On a name ("foo|", "fo|o"): there, then one character back. Elsewhere
 * inside a call ("foo(|", "foo(a, |", where JupyterLab's Shift+Tab usually is): the callee, as
 * IPython shows the signature of the call being typed; TypeScript would answer "any" there.
 */
function inspectPositions(code: string, pos: number): number[] {
  if (/[\w$]$/.test(code.slice(0, pos)) || /^[\w$]/.test(code.slice(pos))) return pos > 0 ? [pos, pos - 1] : [pos];
  let depth = 0;
  for (let i = pos - 1; i >= 0; i--) {
    const ch = code[i];
    if (ch === ")" || ch === "]" || ch === "}") depth++;
    else if (ch === "(" || ch === "[" || ch === "{") {
      if (depth-- > 0) continue;
      const callee = ch === "(" ? /[\w$]\s*$/.exec(code.slice(0, i)) : null;
      return callee ? [callee.index + 1] : [pos];
    }
  }
  return [pos];
}

/** Signature and doc comment of the symbol at (or just before) the cursor, or of the call it is in. */
export function inspect(conv: CellConverter, code: string, cursorPos: number): Inspection {
  const pos = codePointToUtf16(code, cursorPos);
  let info: ts.QuickInfo | undefined;
  for (const p of inspectPositions(code, pos)) if ((info = conv.inspect(code, p))) break;
  if (!info) return { found: false, data: {} };
  const signature = ts.displayPartsToString(info.displayParts);
  const doc = ts.displayPartsToString(info.documentation);
  const tags = (info.tags ?? []).map((t) => `@${t.name}${t.text ? ` ${ts.displayPartsToString(t.text)}` : ""}`);
  const text = [signature, doc, ...tags].filter(Boolean).join("\n\n");
  const markdown = ["```typescript", signature, "```", doc, ...tags.map((t) => `*${t}*`)].filter(Boolean).join("\n");
  const html = `<pre>${escapeHtml(signature)}</pre>${doc ? `<p>${escapeHtml(doc)}</p>` : ""}${tags.map((t) => `<p><em>${escapeHtml(t)}</em></p>`).join("")}`;
  return { found: true, data: { "text/plain": text, "text/markdown": markdown, "text/html": html } };
}

/** Parser diagnostics at the very end ("'}' expected.") mean the user is still typing. */
const CONTINUATION_CODES = new Set([
  1005, // 'x' expected.
  1010, // '*/' expected.
  1109, // Expression expected.
  1126, // Unexpected end of text.
  1160, // Unterminated template literal.
]);

export function isComplete(code: string): { status: "complete" | "incomplete" | "invalid"; indent?: string } {
  if (code.trim() === "") return { status: "complete" };
  const sf = ts.createSourceFile("cell.ts", code, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const diags = (sf as unknown as { parseDiagnostics: ts.DiagnosticWithLocation[] }).parseDiagnostics ?? [];
  if (diags.length === 0) return { status: "complete" };
  const end = code.length;
  const atEnd = (d: ts.DiagnosticWithLocation) => d.start + d.length >= end && CONTINUATION_CODES.has(d.code);
  if (diags.every(atEnd)) return { status: "incomplete", indent: nextIndent(code) };
  return { status: "invalid" };
}

function nextIndent(code: string): string {
  const last = code.split("\n").pop() ?? "";
  const current = /^\s*/.exec(last)![0];
  return /[{([]\s*$/.test(last) ? `${current}  ` : current;
}
