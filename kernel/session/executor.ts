/**
 * Runs compiled cells. Each cell is a function called with the shared `exports` object (where
 * every top-level name lives) and a `require` that resolves from the notebook's folder, with
 * "nemotron-lab" resolving to this package. Synchronous code runs under vm's breakOnSigint;
 * top-level-await code is raced against the cell's AbortSignal. Errors come back with their stack
 * mapped to the cell's own lines.
 */
import Module, { createRequire } from "module";
import * as path from "path";
import * as vm from "vm";
import { CellConverter, type Compiled } from "./converter";
import type { CellContext } from "./context";
import { runInCell } from "./context";
import { clearInterruptFlag, KeyboardInterrupt, SCRIPT_BOUNDS_GLOBAL, scriptEnded, whenAborted } from "./interrupt";
import { PACKAGE_NAME, packageEntry } from "./paths";
import { rollbackPending } from "../../src/util/undo";
import { shownInCell } from "../../src/display/display";
import { formatDiagnostics, formatError, type CellError, type SourceInfo } from "./traceback";

const ARGS = Symbol.for("nemotron-lab.cellArgs");

export type Outcome = { status: "ok"; hasValue: boolean; value?: unknown } | ({ status: "error" } & CellError);


export class Executor {
  readonly converter = new CellConverter();
  private readonly store: Record<string, unknown> = {};
  private readonly exports: Record<string, unknown>;
  private readonly require: NodeJS.Require;
  private readonly sideOutputs = new Map<string, string>();
  private readonly sideModules = new Map<string, Module>();
  private readonly sources = new Map<string, SourceInfo>();
  private runs = 0;

  constructor(readonly cwd: string) {
    const store = this.store;
    // TypeScript's CommonJS emit defines re-exported names with defineProperty getters; store
    // plain values so later cells can reassign them.
    this.exports = new Proxy(store, {
      defineProperty: (_t, prop, attrs) => {
        if (prop === "__esModule") return true;
        store[prop as string] = attrs.get ? attrs.get() : attrs.value;
        return true;
      },
    });
    this.require = this.makeRequire(path.join(cwd, "__notebook__.js"));
  }

  /** Names defined by earlier cells (for user_expressions and tests). */
  get locals(): Readonly<Record<string, unknown>> {
    return this.store;
  }

  private makeRequire(fromFile: string): NodeJS.Require {
    const base = createRequire(fromFile);
    const dir = path.dirname(fromFile);
    const wrapped = ((id: string) => {
      if (id === PACKAGE_NAME) return base(packageEntry().js);
      if (id.startsWith(`${PACKAGE_NAME}/`)) return base(path.join(path.dirname(path.dirname(path.dirname(packageEntry().js))), id.slice(PACKAGE_NAME.length + 1)));
      const side = this.requireSide(id, dir);
      if (side) return side;
      return base(id);
    }) as NodeJS.Require;
    return Object.assign(wrapped, { resolve: base.resolve, cache: base.cache, main: base.main, extensions: base.extensions });
  }

  /** Local .ts files a cell imports are compiled by the converter ("side outputs"); load those. */
  private requireSide(id: string, dir: string): unknown {
    if (!id.startsWith(".") && !path.isAbsolute(id)) return undefined;
    let file = path.resolve(dir, id);
    if (!path.extname(file)) file += ".js";
    const cached = this.sideModules.get(file);
    if (cached) return cached.exports;
    const code = this.sideOutputs.get(file);
    if (code === undefined) return undefined;
    const mod = new Module(file, module);
    mod.filename = file;
    mod.paths = (Module as unknown as { _nodeModulePaths(d: string): string[] })._nodeModulePaths(path.dirname(file));
    mod.require = this.makeRequire(file);
    this.sideModules.set(file, mod);
    (mod as unknown as { _compile(code: string, file: string): void })._compile(code, file);
    return mod.exports;
  }

  /** Compiles and runs `code` as the cell `ctx`; never throws. */
  async run(code: string, ctx: CellContext): Promise<Outcome> {
    const label = ctx.count > 0 ? `cell ${ctx.count}` : "cell";
    const result = this.converter.compile(code);
    if (!result.ok) return { status: "error", ...formatDiagnostics(result.diagnostics, code, label) };
    const compiled = result.compiled;
    for (const s of compiled.sideOutputs) {
      this.sideOutputs.set(s.path, s.data);
      this.sideModules.delete(s.path);
    }
    try {
      await runInCell(ctx, () => this.evaluate(compiled, code, label, ctx));
    } catch (e) {
      clearInterruptFlag();
      // Like a Python REPL, names the cell defined before it failed (or was interrupted) stay.
      this.converter.commit(compiled.declOutput);
      if (compiled.lastExpressionVar) delete this.store[compiled.lastExpressionVar];
      const err = formatError(this.normalize(e), (file) => this.sources.get(file));
      // The VM's SIGINT break skips finally blocks: undo what library work left half-done.
      const undone = this.rollback();
      if (undone.length) err.traceback.push(`(the model was put back as it was before: ${undone.join("; ")})`);
      return { status: "error", ...err };
    }
    this.converter.commit(compiled.declOutput);
    const name = compiled.lastExpressionVar;
    if (name && name in this.store) {
      const value = this.store[name];
      delete this.store[name];
      // A value its maker already showed in this cell (lab.interact) is not shown twice.
      return { status: "ok", hasValue: value !== undefined && !shownInCell(value, ctx.controller.signal), value };
    }
    return { status: "ok", hasValue: false };
  }

  private async evaluate(compiled: Compiled, code: string, label: string, ctx: CellContext): Promise<void> {
    const file = `__nemotron_lab_cell_${++this.runs}__.js`;
    // The script body is bracketed for the interrupt protocol (interrupt.ts): SIGINT only lands inside it.
    const bounds = `globalThis[${JSON.stringify(SCRIPT_BOUNDS_GLOBAL)}]`;
    const prefix = `${bounds}.enter(); try { ` + (compiled.hasTopLevelAwait ? "(async function (exports, require) { " : "(function (exports, require) { ");
    this.sources.set(file, { label, lines: code.split("\n"), map: compiled.map, firstLineShift: prefix.length, generatedLines: compiled.js.split("\n").length });
    // The call happens inside the script, so breakOnSigint covers the whole synchronous run.
    (globalThis as Record<symbol, unknown>)[ARGS] = { exports: this.exports, require: this.require };
    const suffix = `\n})(globalThis[Symbol.for(${JSON.stringify(ARGS.description)})].exports, globalThis[Symbol.for(${JSON.stringify(ARGS.description)})].require) } finally { ${bounds}.leave(); }`;
    const script = new vm.Script(`${prefix}${compiled.js}${suffix}`, { filename: file });
    clearInterruptFlag();
    let ret: unknown;
    try {
      ret = script.runInThisContext({ breakOnSigint: true });
    } finally {
      scriptEnded();
    }
    if (compiled.hasTopLevelAwait) await Promise.race([ret as Promise<unknown>, whenAborted(ctx.controller.signal)]);
    if (ctx.controller.signal.aborted) throw new KeyboardInterrupt();
  }

  /** Runs the undo journal (src/util/undo.ts); an undo that fails is reported, not thrown. */
  private rollback(): string[] {
    try {
      return rollbackPending();
    } catch (e) {
      return [`an undo failed: ${(e as Error)?.message ?? String(e)}`];
    }
  }

  private normalize(e: unknown): unknown {
    if (e && typeof e === "object" && (e as { code?: string }).code === "ERR_SCRIPT_EXECUTION_INTERRUPTED") {
      return new KeyboardInterrupt("Interrupted (SIGINT)");
    }
    return e;
  }

  reset(): void {
    this.converter.reset();
    for (const k of Object.keys(this.store)) delete this.store[k];
  }

  /** Done with this session: releases the compiler (its file watchers). */
  close(): void {
    this.converter.close();
  }
}

