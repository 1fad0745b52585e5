import { describe, it, expect, beforeAll } from "vitest";
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { makeTiny } from "../src/index";

const ROOT = path.resolve(__dirname, "..");
const MAIN = path.join(ROOT, "dist/cli/main.js");
const HAS_MODEL = fs.existsSync(path.join(ROOT, "src/model/nemotron-h.ts"));

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, "generate", ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let tiny: string;
let noTok: string;
beforeAll(async () => {
  if (!fs.existsSync(MAIN)) spawnSync("npx", ["tsc", "-p", "tsconfig.json"], { cwd: ROOT, stdio: "inherit" });
  tiny = fs.mkdtempSync(path.join(os.tmpdir(), "nl-cli-gen-"));
  await makeTiny(tiny, { dtype: "f32", seed: 3 });
  noTok = fs.mkdtempSync(path.join(os.tmpdir(), "nl-cli-notok-"));
  await makeTiny(noTok, { dtype: "f32", seed: 3 });
  fs.rmSync(path.join(noTok, "tokenizer.json"));
  fs.rmSync(path.join(noTok, "tokenizer_config.json"));
});

describe("generate CLI: input checks before the model", () => {
  it("needs exactly one of --prompt and --ids", () => {
    const r = cli([tiny]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/exactly one of --prompt TEXT or --ids/);
    expect(cli([tiny, "--prompt", "a", "--ids", "1"]).code).toBe(2);
  });

  it("--prompt without tokenizer files says to pass ids", () => {
    const r = cli([noTok, "--prompt", "hello"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no tokenizer\.json, so --prompt cannot be encoded; pass --ids/);
  });

  it("malformed ids and numbers name the flag", () => {
    expect(cli([tiny, "--ids", "1,x"]).stderr).toMatch(/--ids: 'x' is not a token id/);
    expect(cli([tiny, "--ids", ","]).stderr).toMatch(/--ids is empty/);
    expect(cli([tiny, "--ids", "1", "--top-k", "2.5"]).stderr).toMatch(/--top-k must be an integer/);
  });
});

if (HAS_MODEL) {
  describe("generate CLI with the native model", () => {
    it("--json prints one object with ids, text and speeds", () => {
      const r = cli([tiny, "--prompt", "Hello there", "--max-tokens", "8", "--json"]);
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.ids.length).toBeGreaterThan(0);
      expect(j.ids.length).toBeLessThanOrEqual(8);
      expect(typeof j.text).toBe("string");
      expect(["eos", "length", "stop"]).toContain(j.finish_reason);
      expect(j.prompt_ids[0]).toBe(1);  // BOS from the tokenizer
      expect(j.prefill_tokens_per_s).toBeGreaterThan(0);
      if (j.ids.length > 1) expect(j.decode_tokens_per_s).toBeGreaterThan(0);
    });

    it("streams text and the same seed gives the same reply", () => {
      const args = [tiny, "--prompt", "The river", "--max-tokens", "12", "--ignore-eos", "--temperature", "1", "--top-p", "0.9", "--seed", "5"];
      const a = cli(args), b = cli(args);
      expect(a.code, a.stderr).toBe(0);
      expect(a.stdout).toBe(b.stdout);
      expect(a.stderr).toMatch(/\[length\] \d+ prompt tokens, 12 generated; prefill [\d.]+ tok\/s, decode [\d.]+ tok\/s/);
      const j = JSON.parse(cli([...args, "--json"]).stdout);
      expect(a.stdout).toBe(j.text + "\n");
    });

    it("--chat renders the template (no BOS, <SPECIAL_10> first)", () => {
      const j = JSON.parse(cli([tiny, "--prompt", "Hi", "--chat", "--system", "Be brief", "--no-think", "--max-tokens", "2", "--json"]).stdout);
      expect(j.prompt_ids[0]).toBe(10);
    });

    it("--ids works without tokenizer files and prints ids", () => {
      const r = cli([noTok, "--ids", "1,2,3", "--max-tokens", "4", "--ignore-eos"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toMatch(/^\d+( \d+){3}$/);
      const j = JSON.parse(cli([noTok, "--ids", "1,2,3", "--max-tokens", "4", "--ignore-eos", "--json"]).stdout);
      expect(j.text).toBeUndefined();
      expect(j.ids.join(" ")).toBe(r.stdout.trim());
    });

    it("ids outside the vocabulary and over-long contexts are clear errors", () => {
      const v = cli([tiny, "--ids", "1,1024"]);
      expect(v.code).toBe(2);
      expect(v.stderr).toMatch(/prompt token 1 is 1024, outside the vocabulary \[0, 1024\)/);
      const c = cli([tiny, "--ids", "1,2,3", "--max-tokens", "8", "--max-context", "10"]);
      expect(c.code).toBe(2);
      expect(c.stderr).toMatch(/longer than the context of 10/);
    });

    it("Ctrl-C stops generation cleanly with exit code 130", async () => {
      const child = spawn(process.execPath, [MAIN, "generate", noTok, "--ids", "1", "--max-tokens", "4000", "--ignore-eos"]);
      let out = "", err = "";
      child.stderr.on("data", (d) => (err += d));
      child.stdout.on("data", (d) => { if (!out) child.kill("SIGINT"); out += d; });
      const code = await new Promise<number | null>((res) => child.on("close", res));
      expect(code).toBe(130);
      expect(err).toMatch(/\[aborted\]/);
      expect(err).toMatch(/interrupted/);
      expect(out.trim().split(" ").length).toBeLessThan(4000);
    });
  });
} else {
  console.warn("\n*** SKIPPED: generate CLI tests with the model — src/model/nemotron-h.ts is not in this build (they run after the model branch is merged) ***\n");
  describe("generate CLI without the model", () => {
    it("says clearly that the forward pass is missing", () => {
      const r = cli([tiny, "--ids", "1,2"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/no model forward pass \(src\/model\/nemotron-h\.ts is missing\)/);
    });
  });
}
