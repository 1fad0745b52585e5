/**
 * Notebook parameters (papermill's idea, in place): `--param NAME=VALUE` replaces the initial
 * value of `const NAME` in the first code cell that declares it (the notebook's first code cell,
 * or the one after its imports), so one flag switches a notebook to another model.
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
 * Applies parameters to `nb` (in place) and records them in the notebook's metadata. `where`
 * names the notebook in errors.
 */
export function applyParams(nb: Notebook, params: [string, string][], where: string): void {
  if (params.length === 0) return;
  const cells = nb.cells.filter((c) => c.cell_type === "code");
  if (!cells.length) throw new NotebookError(`${where}: --param needs a code cell, and the notebook has none`);
  for (const [name, value] of params) {
    const cell = cells.find((c) => constInitialisers(joinSource(c.source)).has(name));
    if (!cell) {
      const have = [...new Set(cells.flatMap((c) => [...constInitialisers(joinSource(c.source)).keys()]))];
      throw new NotebookError(`${where}: --param ${name}: no code cell declares \`const ${name} = ...\`` +
        (have.length ? ` (its consts: ${have.slice(0, 12).join(", ")}${have.length > 12 ? ", ..." : ""})` : " (it declares no consts)"));
    }
    const code = joinSource(cell.source);
    const span = constInitialisers(code).get(name)!;
    cell.source = splitLines(code.slice(0, span.start) + paramLiteral(value) + code.slice(span.end));
  }
  const meta = (nb.metadata["nemotron-lab"] ??= {}) as Record<string, unknown>;
  meta.parameters = Object.fromEntries(params);
}
