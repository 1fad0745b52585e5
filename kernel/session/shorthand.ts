/**
 * Works around a tslab converter bug: a shorthand property `{ p }` naming a variable declared by an
 * earlier cell compiles to a bare `p` (tslab rewrites earlier cells' names to `exports.p`, but not
 * inside shorthand properties), so `lab.baseline(model, { prompts })` threw "prompts is not defined".
 * Cells are compiled with every shorthand written out (`{ p: p }`, the same meaning), and positions
 * in the expanded text map back to the cell as typed, so errors still point at the right column.
 */
import * as ts from "typescript";

export interface Expansion {
  text: string;
  /** A zero-based (line, column) of `text` → the same place in the source. */
  toSource(line: number, column: number): { line: number; column: number };
  /** An offset of `text` → the offset in the source. */
  offsetToSource(offset: number): number;
}

interface Insertion { offset: number; line: number; column: number; length: number }

export function expandShorthands(src: string): Expansion {
  const identity: Expansion = { text: src, toSource: (line, column) => ({ line, column }), offsetToSource: (o) => o };
  if (!src.includes("{")) return identity;
  const sf = ts.createSourceFile("cell.ts", src, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: Insertion[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isShorthandPropertyAssignment(node)) {
      const offset = node.name.getStart(sf);
      const { line, character } = sf.getLineAndCharacterOfPosition(offset);
      found.push({ offset, line, column: character, length: node.name.text.length + 2 });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  if (!found.length) return identity;
  found.sort((a, b) => a.offset - b.offset);
  let text = "", at = 0;
  for (const ins of found) {
    text += src.slice(at, ins.offset) + src.slice(ins.offset, ins.offset + ins.length - 2) + ": ";
    at = ins.offset;
  }
  text += src.slice(at);
  // Walks the insertions before a position of the expanded text; inside an inserted "p: " maps to its start.
  const back = (pos: number, items: Insertion[], where: (i: Insertion) => number): number => {
    let shift = 0;
    for (const ins of items) {
      const start = where(ins) + shift;
      if (pos < start) break;
      if (pos < start + ins.length) return where(ins);
      shift += ins.length;
    }
    return pos - shift;
  };
  return {
    text,
    toSource: (line, column) => ({ line, column: back(column, found.filter((i) => i.line === line), (i) => i.column) }),
    offsetToSource: (offset) => back(offset, found, (i) => i.offset),
  };
}
