/**
 * The TypeScript that checks and emits cells: the package's own (the `typescript` dependency,
 * 5.9), not the 5.0 fork bundled with tslab (@tslab/typescript-for-tslab). tslab's converter
 * needs four functions that the fork exports and upstream keeps internal; they are supplied here
 * from upstream's public API and its `SymbolDisplay` services (see `forkExtras`). The module is put
 * into the require cache where tslab looks the fork up, before the converter is loaded, with:
 * - createWatchCompilerHost: resolve "nemotron-lab" to this package's dist types from any folder,
 *   take @types/node from our own type roots, emit inline source maps, and drop the options
 *   TypeScript 5.5 removed (tslab still passes noImplicitUseStrict);
 * - transpileModule (tslab's ES-module-to-CommonJS step): keep a source map of that step too,
 *   insert interrupt checks after every await and at the top of every loop body, and blank the
 *   "use strict" prologue that tslab turned off with noImplicitUseStrict (cells stay sloppy-mode
 *   scripts, as in tslab).
 */
import * as path from "path";
import * as ts from "typescript";
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
  require(tsPath);  // makes the cache entry that tslab's require will find
  if (require.cache[tsPath] === undefined) throw new Error("the tslab compiler is not in the require cache");
  const t: Record<string, unknown> = { ...(ts as unknown as Record<string, unknown>), ...forkExtras() };
  require.cache[tsPath]!.exports = t;

  const createHost = ts.createWatchCompilerHost as (...a: unknown[]) => unknown;
  t.createWatchCompilerHost = function (rootFiles: unknown, options: ts.CompilerOptions, ...rest: unknown[]) {
    const entry = packageEntry();
    const { noImplicitUseStrict: _removed, ...kept } = options;
    const merged: ts.CompilerOptions = {
      ...kept,
      paths: { ...(options.paths ?? {}), [PACKAGE_NAME]: [entry.dts.replace(/\.d\.ts$/, "")] },
      typeRoots: typeRoots(),
      types: ["node"],
      inlineSourceMap: true,
      sourceMap: false,
    };
    return routeTimers(createHost(rootFiles, merged, ...rest) as ts.WatchCompilerHost<ts.BuilderProgram>);
  };

  const transpile = ts.transpileModule;
  t.transpileModule = function (input: string, options: ts.TranspileOptions): ts.TranspileOutput {
    const { code, map: esmMap } = takeInlineMap(input);
    const { noImplicitUseStrict: _removed, ...compilerOptions } = options.compilerOptions ?? {};
    const out = transpile(code, {
      ...options,
      compilerOptions: { ...compilerOptions, sourceMap: true, inlineSourceMap: false },
      transformers: { before: [insertInterruptChecks] },
    });
    // Blanked, not removed: the source map's lines stay where they are.
    const text = out.outputText.replace(/^"use strict";/, "").replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, "");
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

/**
 * tslab drives the watch program through one timer, the program update, which it fires itself
 * and allows only one of at a time. TypeScript 5.3+ also schedules a failed-lookup invalidation
 * timer; those callbacks are held here and run just before the next program update, as a
 * timer-driven watch would have run them earlier.
 */
function routeTimers(host: ts.WatchCompilerHost<ts.BuilderProgram>): ts.WatchCompilerHost<ts.BuilderProgram> {
  const set = host.setTimeout!.bind(host), clear = host.clearTimeout!.bind(host);
  const held = new Set<{ run: () => void }>();
  host.setTimeout = (cb: (...a: any[]) => void, ms: number, ...args: any[]) => {
    if (args[0] === "timerToUpdateProgram") {
      return set(() => {
        for (const h of [...held]) { held.delete(h); h.run(); }
        cb(...args);
      }, ms, ...args);
    }
    const h = { run: () => cb(...args) };
    held.add(h);
    return h;
  };
  host.clearTimeout = (id: any) => {
    if (!held.delete(id)) clear(id);
  };
  return host;
}

/** Upstream TypeScript's internals that the services and tslab's converter reach for. */
interface Internals {
  nullTransformationContext: ts.TransformationContext;
  sortAndDeduplicateDiagnostics(d: readonly ts.Diagnostic[]): readonly ts.Diagnostic[];
  getEmitDeclarations(o: ts.CompilerOptions): boolean;
  getTouchingPropertyName(sf: ts.SourceFile, pos: number): ts.Node;
  getContainerNode(node: ts.Node): ts.Node | undefined;
  createTextSpanFromNode(node: ts.Node, sf: ts.SourceFile): ts.TextSpan;
  typeToDisplayParts(c: ts.TypeChecker, t: ts.Type, enclosing?: ts.Node): ts.SymbolDisplayPart[];
  Completions: Record<string, unknown> & { getCompletionsAtPosition(...a: unknown[]): unknown };
  SymbolDisplay: {
    getSymbolDisplayPartsDocumentationAndSymbolKind(c: ts.TypeChecker, s: ts.Symbol, sf: ts.SourceFile, enclosing: ts.Node | undefined,
      location: ts.Node): { symbolKind: ts.ScriptElementKind; displayParts: ts.SymbolDisplayPart[];
      documentation: ts.SymbolDisplayPart[]; tags?: ts.JSDocTagInfo[] };
    getSymbolModifiers(c: ts.TypeChecker, s: ts.Symbol): string;
  };
}

/** What @tslab/typescript-for-tslab adds to TypeScript, rebuilt on upstream (same signatures). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function forkExtras(): Record<string, unknown> {
  const i = ts as unknown as Internals;
  for (const k of ["nullTransformationContext", "sortAndDeduplicateDiagnostics", "getEmitDeclarations", "getTouchingPropertyName",
    "getContainerNode", "createTextSpanFromNode", "typeToDisplayParts", "SymbolDisplay", "Completions"] as const) {
    if (i[k] === undefined) throw new Error(`TypeScript ${ts.version} lacks '${k}', which the kernel's tslab converter needs`);
  }
  return {
    getNullTransformationContext: () => i.nullTransformationContext,
    // The fork's name for upstream's completions entry point without a format context.
    Completions: { ...i.Completions, getCompletionsAtPositionForTslab: (...a: unknown[]) => i.Completions.getCompletionsAtPosition(...a.slice(0, 9), undefined) },
    /** The node_modules/@types folders from dir up to the root (tslab adds its own if none has node). */
    getDefaultTypeRoots(dir: string, host: { directoryExists?(d: string): boolean }): string[] | undefined {
      const roots: string[] = [];
      for (let d = path.resolve(dir); ; d = path.dirname(d)) {
        const r = path.join(d, "node_modules", "@types");
        if (host.directoryExists?.(r) ?? ts.sys.directoryExists(r)) roots.push(r);
        if (path.dirname(d) === d) break;
      }
      return roots.length ? roots : undefined;
    },
    getPreEmitDiagnosticsOfFiles(program: ts.Program, files: readonly ts.SourceFile[], token?: ts.CancellationToken) {
      const d: ts.Diagnostic[] = [...program.getConfigFileParsingDiagnostics(), ...program.getOptionsDiagnostics(token),
        ...program.getGlobalDiagnostics(token)];
      for (const f of files) {
        d.push(...program.getSyntacticDiagnostics(f, token), ...program.getSemanticDiagnostics(f, token));
        if (i.getEmitDeclarations(program.getCompilerOptions())) d.push(...program.getDeclarationDiagnostics(f, token));
      }
      return i.sortAndDeduplicateDiagnostics(d);
    },
    /** The hover text at a position (what the language service's getQuickInfoAtPosition gives). */
    getQuickInfoAtPosition(sf: ts.SourceFile, checker: ts.TypeChecker, _token: unknown, position: number): ts.QuickInfo | undefined {
      const node = i.getTouchingPropertyName(sf, position);
      if (node === sf) return undefined;
      const symbol = checker.getSymbolAtLocation(node);
      const textSpan = i.createTextSpanFromNode(node, sf);
      if (!symbol) {
        const type = checker.getTypeAtLocation(node);
        return type && { kind: ts.ScriptElementKind.unknown, kindModifiers: "", textSpan,
          displayParts: i.typeToDisplayParts(checker, type, i.getContainerNode(node)),
          documentation: type.symbol?.getDocumentationComment(checker), tags: type.symbol?.getJsDocTags(checker) };
      }
      const r = i.SymbolDisplay.getSymbolDisplayPartsDocumentationAndSymbolKind(checker, symbol, sf, i.getContainerNode(node), node);
      return { kind: r.symbolKind, kindModifiers: i.SymbolDisplay.getSymbolModifiers(checker, symbol), textSpan,
        displayParts: r.displayParts, documentation: r.documentation, tags: r.tags };
    },
  };
}
