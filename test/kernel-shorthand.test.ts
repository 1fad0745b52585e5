/**
 * Shorthand properties naming an earlier cell's variable (`{ prompts }`) must compile to that
 * variable (tslab alone leaves a bare name: ReferenceError), and positions still map to the cell.
 */
import * as vm from "vm";
import { describe, expect, it } from "vitest";
import { CellConverter } from "../kernel/session/converter";
import { expandShorthands } from "../kernel/session/shorthand";

describe("shorthand properties across cells", () => {
  it("expands { p } to { p: p } and maps positions back", () => {
    const src = "const a = 1;\nf({ p, q = 2 }, p);\n";
    const e = expandShorthands(src);
    expect(e.text).toBe("const a = 1;\nf({ p: p, q: q = 2 }, p);\n");
    // the final `p` argument: column 16 in the source, 22 in the expanded text
    expect(e.toSource(1, 22)).toEqual({ line: 1, column: 16 });
    expect(e.toSource(1, 10)).toEqual({ line: 1, column: 7 });   // the `q` after the inserted "p: "
    expect(e.toSource(1, 5)).toEqual({ line: 1, column: 4 });    // inside the inserted text: the shorthand's start
    expect(e.toSource(0, 6)).toEqual({ line: 0, column: 6 });
    expect(e.offsetToSource(src.indexOf("p);") + 6)).toBe(src.indexOf("p);"));
    expect(expandShorthands("const { x } = o;").text).toBe("const { x } = o;");   // a binding pattern is not a shorthand property
  });

  it("a later cell reads an earlier cell's variable through a shorthand property", () => {
    const conv = new CellConverter();
    const first = conv.compile("const prompts = [1, 2, 3];");
    expect(first.ok).toBe(true);
    if (!first.ok) return;
    conv.commit(first.compiled.declOutput);
    const second = conv.compile("const opts = { prompts, n: prompts.length };\nopts");
    expect(second.ok).toBe(true);
    if (!second.ok) return;
    const exports: Record<string, unknown> = {};
    vm.runInNewContext(first.compiled.js, { exports, require });
    vm.runInNewContext(second.compiled.js, { exports, require });
    expect(exports[second.compiled.lastExpressionVar!]).toEqual({ prompts: [1, 2, 3], n: 3 });
  });

  it("type errors in a cell with shorthands point at the cell's own columns", () => {
    const conv = new CellConverter();
    const line = "const o = { p }; const s: string = o.p;";
    const r = conv.compile(`const p = 1;\n${line}`);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.diagnostics[0].start.line).toBe(1);
    expect(r.diagnostics[0].start.character).toBe(line.indexOf("s:"));
  });
});
