/**
 * Notebook parameters (papermill's idea, in place): `--param NAME=VALUE` replaces the initial
 * value of `const NAME` in the first code cell, so one flag switches a notebook to another model.
 * The declaration is found with the TypeScript parser, so type annotations, comments and
 * multi-line initialisers are handled; everything else in the cell stays as written.
 */
import * as ts from "typescript";
import { joinSource, NotebookError, splitLines, type Notebook } from "./nbformat";

/** `NAME=VALUE` from the command line. */
export function parseParam(arg: string): [string, string] {
  const eq = arg.indexOf("=");
  const name = eq > 0 ? arg.slice(0, eq).trim() : "";
  if (!/^[A-Za-z_$][\w$]*$/.test(name)) throw new NotebookError(`--param expects NAME=VALUE with NAME an identifier, got '${arg}'`);
  return [name, arg.slice(eq + 1)];
}

/**
 * The TypeScript literal for a parameter value: JSON (numbers, true/false, null, "quoted strings",
 * arrays, objects) stays as it is; anything else is a string.
 */
export function paramLiteral(value: string): string {
  try {
    JSON.parse(value);
    return value.trim();
  } catch {
    return JSON.stringify(value);
  }
}

/** The `const` declarations of a cell with the character span of each initialiser. */
function constInitialisers(code: string): Map<string, { start: number; end: number }> {
  const sf = ts.createSourceFile("cell.ts", code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found = new Map<string, { start: number; end: number }>();
  for (const st of sf.statements) {
    if (!ts.isVariableStatement(st) || !(st.declarationList.flags & ts.NodeFlags.Const)) continue;
    for (const d of st.declarationList.declarations) {
      if (ts.isIdentifier(d.name) && d.initializer) found.set(d.name.text, { start: d.initializer.getStart(sf), end: d.initializer.getEnd() });
    }
  }
  return found;
}

/**
 * Applies parameters to the first code cell of `nb` (in place) and records them in the notebook's
 * metadata. `where` names the notebook in errors.
 */
export function applyParams(nb: Notebook, params: [string, string][], where: string): void {
  if (params.length === 0) return;
  const cell = nb.cells.find((c) => c.cell_type === "code");
  if (!cell) throw new NotebookError(`${where}: --param needs a code cell, and the notebook has none`);
  let code = joinSource(cell.source);
  for (const [name, value] of params) {
    const consts = constInitialisers(code);
    const span = consts.get(name);
    if (!span) {
      const have = [...consts.keys()];
      throw new NotebookError(`${where}: --param ${name}: the first code cell has no \`const ${name} = ...\`` +
        (have.length ? ` (its consts: ${have.join(", ")})` : " (it declares no consts)"));
    }
    code = code.slice(0, span.start) + paramLiteral(value) + code.slice(span.end);
  }
  cell.source = splitLines(code);
  const meta = (nb.metadata["nemotron-lab"] ??= {}) as Record<string, unknown>;
  meta.parameters = Object.fromEntries(params);
}
