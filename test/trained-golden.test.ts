// Our native logits on the shipped trained model (models/nano-fortunes) against HF transformers'
// NemotronHForCausalLM in float64 on held-out text (test/fixtures/trained-golden, made by
// make_trained_golden.py): both dt semantics, within 1e-5 of max|golden| at the stored positions.
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { NemotronH, TextTokenizer, bundledModelDir, readNpy } from "../src/index";
import { fixture } from "./helpers";

const GOLDEN = fixture("trained-golden");
const MODEL = bundledModelDir("nano-fortunes");
const g = JSON.parse(fs.readFileSync(path.join(GOLDEN, "golden.json"), "utf8")) as {
  ids: number[]; positions: number[]; vocab_size: number; model_sha256: string; text: string; clamp_rel_diff: number;
};

function relErr(logits: Float32Array, gold: ArrayLike<number>, V: number): number {
  let d = 0, m = 0;
  g.positions.forEach((t, k) => {
    for (let v = 0; v < V; v++) {
      const want = gold[k * V + v];
      d = Math.max(d, Math.abs(logits[t * V + v] - want));
      m = Math.max(m, Math.abs(want));
    }
  });
  return d / m;
}

describe("trained model: golden logits from HF transformers (float64)", () => {
  it("the fixture was made from the shipped weights and tokenizer", () => {
    const sha = crypto.createHash("sha256").update(fs.readFileSync(path.join(MODEL, "model.safetensors"))).digest("hex");
    expect(sha, "models/nano-fortunes changed: rerun .venv/bin/python test/fixtures/make_trained_golden.py").toBe(g.model_sha256);
    const tok = TextTokenizer.load(MODEL);
    expect(tok.encode(g.text)).toEqual(g.ids);  // BOS + held-out text, as Python tokenizers encoded it
  });

  for (const clamp of ["none", "hf"] as const) {
    it(`dtClamp "${clamp}" matches within 1e-5 relative`, () => {
      const gold = readNpy(path.join(GOLDEN, `logits_${clamp}.npy`));
      const model = NemotronH.load(MODEL, { dtClamp: clamp });
      expect(gold.shape).toEqual([g.positions.length, model.vocabSize]);
      expect(relErr(model.logits(g.ids), gold.data as Float32Array, model.vocabSize)).toBeLessThanOrEqual(1e-5);
    });
  }
});
