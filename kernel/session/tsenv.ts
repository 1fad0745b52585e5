/**
 * Adjusts the TypeScript compiler that tslab's converter uses (@tslab/typescript-for-tslab) before
 * the converter is loaded. tslab has no options for these, and the compiler's exports are read-only
 * getters, so we put a copy of the module with two wrapped entry points into the require cache
 * where tslab will look it up:
 * - createWatchCompilerHost: resolve "nemotron-lab" to this package's dist types from any folder,
 *   take @types/node from our own type roots, and emit inline source maps;
 * - transpileModule (tslab's ES-module-to-CommonJS step): keep a source map of that step too, and
 *   insert interrupt checks after every await and at the top of every loop body.
 */
import * as path from "path";
import * as ts from "@tslab/typescript-for-tslab";
import { CHECK_GLOBAL } from "./interrupt";
import { PACKAGE_NAME, packageEntry, typeRoots } from "./paths";
import { SourceMap, takeInlineMap } from "./sourcemap";

/** The maps of the most recent main-cell emit, in lookup order (CommonJS -> ESM -> TypeScript). */
export interface LastEmit {
  output: string;
  maps: SourceMap[];
}

let last: LastEmit | undefined;
let patched = false;

export function takeLastEmit(): LastEmit | undefined {
  const l = last;
  last = undefined;
  return l;
}

export const tsVersion: string = ts.version;

export function patchCompiler(): void {
  if (patched) return;
  patched = true;
  const tslabDir = path.dirname(require.resolve("tslab/package.json"));
  const tsPath = require.resolve("@tslab/typescript-for-tslab", { paths: [tslabDir] });
  const original = require(tsPath) as Record<string, unknown>;
  if (require.cache[tsPath] === undefined) throw new Error("the tslab compiler is not in the require cache");
  const t: Record<string, unknown> = {};
  for (const k of Object.keys(original)) t[k] = original[k];
  require.cache[tsPath]!.exports = t;

  const createHost = ts.createWatchCompilerHost as (...a: unknown[]) => unknown;
  t.createWatchCompilerHost = function (rootFiles: unknown, options: ts.CompilerOptions, ...rest: unknown[]) {
    const entry = packageEntry();
    const merged: ts.CompilerOptions = {
      ...options,
      paths: { ...(options.paths ?? {}), [PACKAGE_NAME]: [entry.dts.replace(/\.d\.ts$/, "")] },
      typeRoots: typeRoots(),
      types: ["node"],
      inlineSourceMap: true,
      sourceMap: false,
    };
    return createHost(rootFiles, merged, ...rest);
  };

  const transpile = ts.transpileModule;
  t.transpileModule = function (input: string, options: ts.TranspileOptions): ts.TranspileOutput {
    const { code, map: esmMap } = takeInlineMap(input);
    const out = transpile(code, {
      ...options,
      compilerOptions: { ...options.compilerOptions, sourceMap: true, inlineSourceMap: false },
      transformers: { before: [insertInterruptChecks] },
    });
    const text = out.outputText.replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, "");
    const maps = [out.sourceMapText ? SourceMap.fromJson(out.sourceMapText) : undefined, esmMap].filter(
      (m): m is SourceMap => !!m,
    );
    last = { output: text, maps };
    return { ...out, outputText: text };
  };
}

/** `await x` -> `check(await x)`; loop bodies start with `check()`. Positions stay on the originals. */
function insertInterruptChecks(context: ts.TransformationContext): ts.Transformer<ts.SourceFile> {
  const f = context.factory;
  const check = (args: ts.Expression[]) =>
    f.createCallExpression(f.createPropertyAccessExpression(f.createIdentifier("globalThis"), CHECK_GLOBAL), undefined, args);
  const guardBody = (body: ts.Statement): ts.Statement => {
    const stmt = f.createExpressionStatement(check([]));
    return ts.isBlock(body) ? f.updateBlock(body, [stmt, ...body.statements]) : f.createBlock([stmt, body], true);
  };
  const visit = (node: ts.Node): ts.Node => {
    const n = ts.visitEachChild(node, visit, context);
    if (ts.isAwaitExpression(n)) return ts.setTextRange(check([n]), n);
    if (ts.isForStatement(n)) return f.updateForStatement(n, n.initializer, n.condition, n.incrementor, guardBody(n.statement));
    if (ts.isForOfStatement(n)) return f.updateForOfStatement(n, n.awaitModifier, n.initializer, n.expression, guardBody(n.statement));
    if (ts.isForInStatement(n)) return f.updateForInStatement(n, n.initializer, n.expression, guardBody(n.statement));
    if (ts.isWhileStatement(n)) return f.updateWhileStatement(n, n.expression, guardBody(n.statement));
    if (ts.isDoStatement(n)) return f.updateDoStatement(n, guardBody(n.statement), n.expression);
    return n;
  };
  return (sf) => ts.visitNode(sf, visit) as ts.SourceFile;
}
