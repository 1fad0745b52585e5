// Every ```ts snippet of README.md and docs/*.md runs, as a user would run it: an ES module
// importing "nemotron-lab" by name, type-checked first. The real 9B repo ids are not in this
// machine's Hugging Face cache, so snippets that name them run on the bundled tiny models that
// stand in for them (same tensor paths and layer pattern, random weights), substituted here:
//   nvidia/NVIDIA-Nemotron-Nano-9B-v2-FP8 -> models/tiny-nano-fp8
//   nvidia/NVIDIA-Nemotron-Nano-9B-v2     -> models/tiny-nano
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import { beforeAll, describe, expect, it } from "vitest";
import { bundledModel } from "../src/tiny/bundled";
import { ROOT, tempDir } from "./helpers";

interface Snippet { where: string; code: string }

function snippets(): Snippet[] {
  const files = ["README.md", ...fs.readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)];
  const out: Snippet[] = [];
  for (const file of files) {
    const lines = fs.readFileSync(path.join(ROOT, file), "utf8").split("\n");
    for (let i = 0; i < lines.length; i++) {
      if (lines[i].trim() !== "```ts") continue;
      const start = i + 1;
      while (++i < lines.length && lines[i].trim() !== "```");
      out.push({ where: `${file}:${start}`, code: lines.slice(start, i).join("\n") });
    }
  }
  return out;
}

const ALL = snippets();
const work = tempDir("nl-snippets-");
const fileOf = (s: Snippet) => path.join(work, `${s.where.replace(/[^a-z0-9]+/gi, "_")}.mts`);

describe("README and docs snippets", () => {
  beforeAll(async () => {
    const nano = await bundledModel("tiny-nano"), fp8 = await bundledModel("tiny-nano-fp8");
    fs.mkdirSync(path.join(work, "node_modules"));
    fs.symlinkSync(ROOT, path.join(work, "node_modules", "nemotron-lab"), "dir");
    for (const s of ALL) {
      const code = s.code.replaceAll("nvidia/NVIDIA-Nemotron-Nano-9B-v2-FP8", fp8).replaceAll("nvidia/NVIDIA-Nemotron-Nano-9B-v2", nano);
      fs.writeFileSync(fileOf(s), `${code}\nexport {};\n`);
    }
  }, 300_000);

  it("there are snippets in README.md and in every docs page", () => {
    expect(ALL.some((s) => s.where.startsWith("README.md"))).toBe(true);
    for (const f of fs.readdirSync(path.join(ROOT, "docs")).filter((f) => f.endsWith(".md"))) {
      expect(ALL.some((s) => s.where.startsWith(`docs/${f}`)), f).toBe(true);
    }
  });

  it("every snippet type-checks against the package's types", () => {
    const tsc = path.join(ROOT, "node_modules", "typescript", "bin", "tsc");
    const r = spawnSync(process.execPath, [tsc, "--noEmit", "--strict", "--target", "es2022", "--module", "nodenext",
      "--moduleResolution", "nodenext", "--types", "node", "--typeRoots", path.join(ROOT, "node_modules", "@types"), ...ALL.map(fileOf)],
    { cwd: work, encoding: "utf8" });
    expect(r.status, r.stdout + r.stderr).toBe(0);
  }, 120_000);

  for (const s of ALL) {
    it(`runs ${s.where}`, () => {
      const js = fileOf(s).replace(/\.mts$/, ".mjs");
      const ts = require("typescript") as typeof import("typescript");
      fs.writeFileSync(js, ts.transpileModule(fs.readFileSync(fileOf(s), "utf8"), {
        compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
      }).outputText);
      const r = spawnSync(process.execPath, [js], { cwd: work, encoding: "utf8", timeout: 120_000, env: { ...process.env, NEMOTRON_LAB_NO_PROGRESS: "1" } });
      expect(r.status, `${s.where}\n${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.stderr).toBe("");
    }, 150_000);
  }
});
