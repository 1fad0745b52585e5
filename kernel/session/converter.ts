/**
 * TypeScript cells to runnable JavaScript, through tslab's converter (type-checked cells, top-level
 * await, declarations carried from cell to cell). This file owns the converter instance and the
 * declarations of earlier cells; it adds the globals every cell sees and a source map per cell.
 */
import * as ts from "typescript";
import type * as tsTypes from "typescript";
import type { Converter, Diagnostic, SideOutput } from "tslab/dist/converter";
import { GLOBALS_DECLARATION } from "./globals";
import { MapChain, type PositionMap } from "./sourcemap";
import { patchCompiler, takeLastEmit } from "./tsenv";
import { expandShorthands } from "./shorthand";

export interface Compiled {
  js: string;
  /** Maps positions in `js` back to the cell (both zero-based). */
  map?: PositionMap;
  lastExpressionVar?: string;
  hasTopLevelAwait: boolean;
  declOutput: string;
  sideOutputs: SideOutput[];
}

export type CompileResult = { ok: true; compiled: Compiled } | { ok: false; diagnostics: Diagnostic[] };

/**
 * Whether a cell awaits at its top level. tslab tells from a compiler diagnostic, which is not
 * raised for `await (x)`: outside an async context TypeScript reads that as a call to a
 * function named await. Parsed inside an async function, the cell's awaits are plain to see.
 */
export function hasTopLevelAwait(src: string): boolean {
  if (!src.includes("await")) return false;
  const sf = ts.createSourceFile("cell.ts", `async function __cell() {\n${src}\n}`, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const wrapper = sf.statements[0];
  let found = false;
  const visit = (node: ts.Node): void => {
    if (found || ts.isFunctionLike(node) || ts.isClassLike(node)) return;  // their awaits are not the cell's
    if (ts.isAwaitExpression(node) || (ts.isForOfStatement(node) && node.awaitModifier)) { found = true; return; }
    ts.forEachChild(node, visit);
  };
  if (wrapper && ts.isFunctionDeclaration(wrapper) && wrapper.body) wrapper.body.statements.forEach(visit);
  return found;
}

/** tslab prefixes every cell with one line (`export {};`) before emitting. */
const PREFIX_LINES = 1;

export class CellConverter {
  private readonly conv: Converter;
  /** Declarations of everything earlier cells defined: the context new cells are checked in. */
  private prevDecl = "";

  constructor() {
    patchCompiler();
    // Loaded only after patchCompiler: tslab must see the adjusted compiler.
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { createConverter } = require("tslab/dist/converter") as typeof import("tslab/dist/converter");
    this.conv = createConverter();
    const diags = this.conv.addModule("__nemotron_lab_globals__", GLOBALS_DECLARATION);
    if (diags.length) throw new Error(`kernel globals do not type-check: ${diags.map((d) => d.messageText).join("; ")}`);
  }

  compile(src: string): CompileResult {
    const cell = expandShorthands(src);
    const r = this.conv.convert(this.prevDecl, cell.text);
    const toSource = (p: Diagnostic["start"]) => ({ offset: cell.offsetToSource(p.offset), ...(({ line, column }) => ({ line, character: column }))(cell.toSource(p.line, p.character)) });
    const errors = r.diagnostics.filter((d) => d.category === 1).map((d) => (d.fileName ? d : { ...d, start: toSource(d.start), end: toSource(d.end) }));
    if (errors.length) return { ok: false, diagnostics: errors };
    const emit = takeLastEmit();
    const js = r.output ?? "";
    const map = emit && emit.output === js ? new MapChain(emit.maps) : undefined;
    return {
      ok: true,
      compiled: {
        js,
        map: map && {
          lookup: (l: number, c: number) => {
            const p = map.lookup(l, c);
            return p && p.line >= PREFIX_LINES ? cell.toSource(p.line - PREFIX_LINES, p.column) : undefined;
          },
        },
        lastExpressionVar: r.lastExpressionVar,
        hasTopLevelAwait: !!r.hasToplevelAwait || hasTopLevelAwait(cell.text),
        declOutput: r.declOutput ?? "",
        sideOutputs: r.sideOutputs ?? [],
      },
    };
  }

  /** Called once a cell ran, so later cells see what it declared. */
  commit(declOutput: string): void {
    this.prevDecl = declOutput;
  }

  complete(src: string, pos: number): { start: number; end: number; candidates: string[] } {
    return this.conv.complete(this.prevDecl, src, pos);
  }

  inspect(src: string, pos: number): tsTypes.QuickInfo | undefined {
    return this.conv.inspect(this.prevDecl, src, pos);
  }

  reset(): void {
    this.prevDecl = "";
  }

  /** Stops the compiler's file watchers (they would keep a headless run's process alive). */
  close(): void {
    this.conv.close();
  }
}
