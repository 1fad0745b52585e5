// Cells are type-checked and emitted by the TypeScript this package ships (package.json's
// `typescript`), not by the 5.0 fork inside tslab: features of TypeScript 5.4-5.5 check in a
// cell through the kernel's executor, and hover info still works on the shimmed converter.
import * as path from "path";
import { describe, expect, it } from "vitest";
import { Executor } from "../kernel/session/executor";
import { RequestOutlet } from "../kernel/outlet";
import { tsVersion } from "../kernel/session/tsenv";
import { inspect } from "../kernel/session/language";
import { tempDir } from "./helpers";

const shipped = (require(path.join(__dirname, "..", "package.json")) as { dependencies: Record<string, string> }).dependencies.typescript;

describe("cells are checked by the package's TypeScript", () => {
  const ex = new Executor(tempDir());
  let count = 0;
  const run = (code: string) => {
    const published: unknown[] = [];
    const outlet = new RequestOutlet({ publish: (t, c) => published.push([t, c]), requestInput: async () => "" }, {}, [],
      { silent: false, allowStdin: false });
    return ex.run(code, { count: ++count, controller: new AbortController(), outlet });
  };

  it("the compiler is the one package.json pins", () => {
    expect(tsVersion).toBe(shipped);
    expect(tsVersion).toBe((require("typescript") as { version: string }).version);
  });

  it("NoInfer (5.4) and inferred type predicates (5.5) type-check; misuse is still an error", async () => {
    const ok = await run(`function pick<T>(options: T[], fallback: NoInfer<T>): T { return options[0] ?? fallback; }
const xs = [1, undefined, 3].filter((x) => x !== undefined);
const sum: number = xs.reduce((a: number, b: number) => a + b, 0);
const first = pick(["a", "b"], "c");
(globalThis as any).__nlTs = [sum, first];`);
    expect(ok.status, JSON.stringify(ok)).toBe("ok");
    expect((globalThis as { __nlTs?: unknown[] }).__nlTs).toEqual([4, "a"]);
    const bad = await run(`pick(["a"], 3);`);
    expect(bad.status).toBe("error");
    expect(JSON.stringify(bad)).toMatch(/number.*not assignable.*string/);
  });

  it("hover info and completions come from the same compiler", () => {
    const info = ex.converter.inspect("const n = sum;", 10);
    expect(info?.displayParts?.map((p) => p.text).join("")).toBe("const sum: number");
    expect(ex.converter.complete("const m = su", 12).candidates).toContain("sum");
  });

  it("inspection inside a call shows the callee's signature (JupyterLab's Shift+Tab after \"(\")", () => {
    const text = (code: string, pos = code.length) => inspect(ex.converter, code, pos).data["text/plain"];
    expect(text("Math.max(")).toMatch(/^\(method\) Math\.max\(\.\.\.values: number\[\]\): number/);
    expect(text("Math.max(1, (2), ")).toMatch(/^\(method\) Math\.max/);
    expect(text("Math.max()", 9)).toMatch(/^\(method\) Math\.max/);
    expect(text("Math.max(sum", 12)).toBe("const sum: number");
  });

  it("a later cell sees the names of earlier ones (the watch program rebuilds cell after cell)", async () => {
    for (let k = 0; k < 3; k++) expect((await run(`const v${k}: number = ${k === 0 ? "sum" : `v${k - 1}`} + 1;`)).status).toBe("ok");
    expect(ex.locals.v2).toBe(7);
  });
});
