import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { Checkpoint } from "../src/index";
import { ROOT, cli, tempDir } from "./helpers";

describe("nemotron-lab CLI", () => {
  const dir = path.join(tempDir(), "tiny");

  it("make-tiny writes a complete NemotronH checkpoint in each dtype, reproducibly from the seed", () => {
    const r = cli(["make-tiny", dir, "--pattern", "M*-M", "--seed", "3"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/M\*-M/);
    const again = path.join(tempDir(), "again");
    expect(cli(["make-tiny", again, "--pattern", "M*-M", "--seed", "3"]).code).toBe(0);
    expect(fs.readFileSync(path.join(again, "model.safetensors")).equals(fs.readFileSync(path.join(dir, "model.safetensors")))).toBe(true);
    const fp8 = path.join(tempDir(), "fp8");
    expect(cli(["make-tiny", fp8, "--dtype", "f8e4m3"]).code).toBe(0);
    expect(Checkpoint.open(fp8).tensor("backbone.layers.0.mixer.in_proj.weight").dtype).toBe("F8_E4M3");
    const bad = cli(["make-tiny", path.join(tempDir(), "x"), "--dtype", "int4"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--dtype must be f32, bf16 or f8e4m3/);
  });

  it("inspect prints the inventory, as text and as JSON", () => {
    const text = cli(["inspect", dir]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/backbone\.layers\.1\s+attention\s+5/);
    const json = JSON.parse(cli(["inspect", dir, "--json"]).stdout);
    expect(json.config.hybrid_override_pattern).toBe("M*-M");
    expect(json.inventory.blocks.find((b: { path: string }) => b.path === "backbone.layers.2").kind).toBe("mlp");
  });

  it("inspect --tensor takes a name or a glob and reports statistics that match the values", () => {
    const r = cli(["inspect", dir, "--tensor", "backbone.layers.*.mixer.in_proj", "--json"]);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout);
    expect(rows.map((x: { name: string }) => x.name)).toEqual(["backbone.layers.0.mixer.in_proj.weight", "backbone.layers.3.mixer.in_proj.weight"]);
    const values = Checkpoint.open(dir).tensor(rows[0].name).values();
    expect(rows[0].stats.max).toBe(values.reduce((a, b) => Math.max(a, b)));
    expect(rows[0].stats.percentiles["50"]).toBeDefined();
    const one = cli(["inspect", dir, "--tensor", "backbone.norm_f.weight"]);
    expect(one.stdout).toMatch(/backbone\.norm_f\.weight\s+BF16\s+\[128\]/);
    const none = cli(["inspect", dir, "--tensor", "nothing.*"]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/no tensor matches 'nothing\.\*'/);
  });

  it("bad input exits non-zero with a message naming the file, never a stack trace", () => {
    const broken = tempDir();
    fs.writeFileSync(path.join(broken, "model.safetensors"), Buffer.from([1, 2, 3]));
    const r = cli(["inspect", broken]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/model\.safetensors.*shorter than the 8-byte header length/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    expect(cli(["frobnicate"]).code).toBe(2);
    expect(cli(["inspect"]).stderr).toMatch(/missing PATH/);
  });
});

describe("nemotron-lab kernel", () => {
  it("installs a kernelspec that runs this package's kernel", () => {
    const prefix = tempDir();
    const r = cli(["kernel", "install", "--prefix", prefix]);
    expect(r.code).toBe(0);
    const spec = JSON.parse(fs.readFileSync(path.join(prefix, "share", "jupyter", "kernels", "nemotron-lab", "kernel.json"), "utf8"));
    expect(spec.display_name).toBe("TypeScript (nemotron-lab)");
    expect(spec.language).toBe("typescript");
    expect(spec.argv.join(" ")).toMatch(/kernel.*\{connection_file\}/);
    expect(fs.existsSync(path.join(prefix, "share", "jupyter", "kernels", "nemotron-lab", "logo-64x64.png"))).toBe(true);
    expect(cli(["kernel"]).code).toBe(2);
  });
});

describe("the library inside a tslab-style TypeScript cell", () => {
  it("loads through tslab's converter and executor (imports become require)", async () => {
    const notebookDir = tempDir();
    fs.mkdirSync(path.join(notebookDir, "node_modules"));
    fs.symlinkSync(ROOT, path.join(notebookDir, "node_modules", "nemotron-lab"), "dir");
    // tslab's own modules, loaded by path so the test needs no global install.
    const { createConverter } = require(path.join(ROOT, "node_modules", "tslab", "dist", "converter"));
    const { createExecutor } = require(path.join(ROOT, "node_modules", "tslab", "dist", "executor"));
    const prev = process.cwd();
    process.chdir(notebookDir);  // tslab resolves modules from the working directory, like a notebook's
    const node = createConverter(), browser = createConverter({ isBrowser: true });
    const errors: string[] = [];
    const exec = createExecutor(notebookDir, { node, browser, close: () => { node.close(); browser.close(); } },
      { log: () => {}, error: (...m: unknown[]) => errors.push(m.map(String).join(" ")) });
    try {
      const ok = await exec.execute(`import { encodeFp8, FP8_MAX } from "nemotron-lab";\nconst code: number = encodeFp8(new Float32Array([1.0, 448]), "e4m3")[1];\n(globalThis as any).__nlCell = [code, FP8_MAX.e4m3];`);
      expect(errors.join("\n")).toBe("");
      expect(ok).toBe(true);
      expect((globalThis as { __nlCell?: number[] }).__nlCell).toEqual([126, 448]);
    } finally {
      exec.close();
      process.chdir(prev);
    }
  });
});
