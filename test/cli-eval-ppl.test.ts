// nemotron-lab eval-ppl on the shipped trained model's held-out text, and the windowed
// perplexity underneath it (src/eval/perplexity.ts).
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { NemotronH, TextTokenizer, bundledModelDir, logSoftmax, makeTiny, perplexity, windowedPerplexity } from "../src/index";
import { cli, tempDir } from "./helpers";

const MODEL = bundledModelDir("nano-fortunes");
const TEXT = path.join(MODEL, "heldout.txt");

describe("eval-ppl CLI", () => {
  it("reports perplexity and tokens/s on held-out text; the trained model is far better than chance", () => {
    const r = cli(["eval-ppl", MODEL, "--text", TEXT, "--limit", "1024", "--max-tokens", "256", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ scored: 1024, total: 1024, windows: 5, window: 256, stride: 255, dtClamp: "none", interrupted: false });
    expect(out.tokensPerSecond).toBeGreaterThan(0);
    // A uniform guess over the 4096-token vocabulary scores 4096 (and the untrained model about that);
    // the trained model must be many times better.
    expect(out.perplexity).toBeGreaterThan(1);
    expect(out.perplexity).toBeLessThan(500);
    // The same figure through the library: BOS-started windows of the same tokens.
    const tok = TextTokenizer.load(MODEL);
    const ids = tok.encode(fs.readFileSync(TEXT, "utf8"), { addSpecialTokens: false }).slice(0, 1024);
    const lib = windowedPerplexity(NemotronH.load(MODEL), ids, { window: 256, prefix: tok.encode("") });
    expect(out.perplexity).toBeCloseTo(lib.perplexity, 6);
  });

  it("prints a readable summary, and overlapping windows score every token once", () => {
    const r = cli(["eval-ppl", MODEL, "--text", TEXT, "--limit", "600", "--max-tokens", "256", "--stride", "128"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^perplexity \d+\.\d{3} \(mean NLL [\d.]+ nats\) over 600 tokens of /);
    expect(r.stdout).toMatch(/5 windows of <= 256 tokens, stride 128, dt clamp none; \d+ tokens\/s/);
  });

  it("bad input names the flag or file and what was expected", () => {
    expect(cli(["eval-ppl", MODEL]).stderr).toMatch(/--text FILE is required/);
    const missing = path.join(tempDir(), "nope.txt");
    const r = cli(["eval-ppl", MODEL, "--text", missing]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--text ${missing}: cannot read it (ENOENT)`);
    expect(cli(["eval-ppl", MODEL, "--text", TEXT, "--max-tokens", "64", "--stride", "64"]).stderr).toMatch(/--stride must be in \[1, 63\]/);
    expect(cli(["eval-ppl", MODEL, "--text", TEXT, "--dt-clamp", "x"]).stderr).toMatch(/--dt-clamp must be none or hf/);
    const empty = path.join(tempDir(), "empty.txt");
    fs.writeFileSync(empty, "");
    expect(cli(["eval-ppl", MODEL, "--text", empty]).stderr).toMatch(/has no tokens/);
  });

  it("a checkpoint without tokenizer files is refused before loading the model", async () => {
    const dir = tempDir();
    await makeTiny(dir, { dtype: "f32", seed: 1 });
    fs.rmSync(path.join(dir, "tokenizer.json"));
    const r = cli(["eval-ppl", dir, "--text", TEXT]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/has no tokenizer\.json, so --text cannot be encoded/);
  });
});

describe("windowedPerplexity", () => {
  const model = NemotronH.load(MODEL);
  const tok = TextTokenizer.load(MODEL);
  const ids = tok.encode(fs.readFileSync(TEXT, "utf8"), { addSpecialTokens: false }).slice(0, 300);

  it("one window equals perplexity() of BOS + text, and a stride scores every token exactly once", () => {
    const one = windowedPerplexity(model, ids.slice(0, 100), { window: 101, prefix: [1] });
    expect(one.windows).toBe(1);
    expect(one.perplexity).toBeCloseTo(perplexity(model, [1, ...ids.slice(0, 100)]), 8);
    // stride 50 in windows of 151: window k scores ids[50k, 50k+50) with up to 150 tokens of context.
    const strided = windowedPerplexity(model, ids, { window: 151, stride: 50, prefix: [1] });
    expect(strided).toMatchObject({ scored: 300, windows: 6 });
    let nll = 0;
    for (let k = 0; k < 6; k++) {
      const ctx = Math.max(0, 50 * k + 50 - 150), input = [1, ...ids.slice(ctx, 50 * k + 50)];
      const lg = model.logits(input), V = model.vocabSize;
      for (let j = 50 * k; j < 50 * k + 50; j++) nll -= logSoftmax(lg.subarray((j - ctx) * V, (j - ctx + 1) * V))[ids[j]];
    }
    expect(strided.nll).toBeCloseTo(nll / 300, 8);
  });

  it("stops at an abort between windows and reports what it scored", () => {
    const c = new AbortController();
    const r = windowedPerplexity(model, ids, { window: 101, prefix: [1], signal: c.signal, onWindow: () => c.abort() });
    expect(r).toMatchObject({ interrupted: true, scored: 100, windows: 1 });
    expect(() => windowedPerplexity(model, ids, { window: 101, prefix: [1], signal: c.signal })).toThrow(/abort/i);
  });

  it("checks its options", () => {
    expect(() => windowedPerplexity(model, ids, { window: 1, prefix: [1] })).toThrow(/window must be an integer > 1/);
    expect(() => windowedPerplexity(model, ids, { window: 10, stride: 10, prefix: [1] })).toThrow(/stride must be an integer in \[1, 9\]/);
    expect(() => windowedPerplexity(model, [5], {})).toThrow(/needs at least 2/);
  });
});
