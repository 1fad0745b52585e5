// Lens analyses through the public API: direct logit attribution sums to the logit, activation
// patching restores exactly where it must (and nothing where it cannot), and the error of a live
// quantization enters at the first quantized block.
import * as path from "path";
import { describe, expect, it } from "vitest";
import * as lab from "../src/index";
import { fixture } from "./helpers";

const { NemotronH } = lab;

describe("direct logit attribution", () => {
  for (const dir of ["f32_g2_chunk8", "bf16_tied"]) {
    it(`the shares plus the embedding term sum to the token's logit (${dir})`, () => {
      const model = NemotronH.load(path.join(fixture("golden"), dir));
      const toks = [3, 17, 42, 5, 99, 7, 11, 200];
      const cache = model.runWithCache(toks, { names: lab.attributionHooks(model) });
      const V = model.vocabSize;
      for (const position of [2, toks.length - 1]) {
        const row = cache.logits.subarray(position * V, (position + 1) * V);
        const top = row.indexOf(Math.max(...row));
        const a = lab.directLogitAttribution(model, cache, top, { position });
        expect(a.layers.length).toBe(model.config.num_hidden_layers);
        expect(a.logit).toBe(row[top]);
        expect(Math.abs(a.total - a.logit)).toBeLessThan(1e-4 * Math.max(1, Math.abs(a.logit)));
        // Not every share is the same: the blocks write different amounts.
        expect(new Set(a.layers.map((l) => l.value.toFixed(6))).size).toBeGreaterThan(1);
        const d = lab.directLogitAttribution(model, cache, top, { position, versus: 0 });
        expect(Math.abs(d.total - (row[top] - row[0]))).toBeLessThan(1e-4 * Math.max(1, Math.abs(d.logit)));
        d.layers.forEach((l, i) => expect(l.value).toBeCloseTo(a.layers[i].value - lab.directLogitAttribution(model, cache, 0, { position }).layers[i].value, 4));
      }
      const fig = lab.logitAttributionView(lab.directLogitAttribution(model, cache, 5));
      expect(fig.data.map((t) => t.name)).toEqual(expect.arrayContaining(["embedding", "mamba", "attention"]));
      expect(fig.data.reduce((n, t) => n + (t.x as number[]).length, 0)).toBe(model.config.num_hidden_layers + 1);
      expect(() => lab.directLogitAttribution(model, cache, V)).toThrow(/token \d+ is outside the vocabulary/);
      const small = model.runWithCache(toks, { names: ["backbone.layers.*"] });
      expect(() => lab.directLogitAttribution(model, small, 5)).toThrow(/backbone\.embeddings' was not recorded/);
    });
  }
});

describe("activation patching", () => {
  const model = NemotronH.load(path.join(fixture("golden"), "f32_g2_chunk8"));
  const L = model.config.num_hidden_layers;
  const clean = [3, 17, 42, 5, 99, 7, 11, 200], corrupted = [3, 17, 42, 6, 99, 7, 11, 200];
  const V = model.vocabSize, T = clean.length;
  const logits = model.logits(clean), last = logits.subarray((T - 1) * V);
  const order = [...last.keys()].sort((a, b) => last[b] - last[a]);
  const target = { answer: order[0], wrong: order[1] };

  it("patching nothing gives 0, every position of the last block gives 1 exactly, a partial patch in between", () => {
    const base = lab.patchingBaseline(model, clean, corrupted, target);
    expect(base.clean).toBe(last[order[0]] - last[order[1]]);
    expect(base.patch(`backbone.layers.${L - 1}`, [])).toBe(0);
    expect(base.patch(`backbone.layers.${L - 1}`, [...clean.keys()])).toBe(1);
    expect(base.patch("backbone.layers.0", [...clean.keys()])).toBeCloseTo(1, 5);
    const one = base.patch("backbone.layers.0", [3]);
    expect(Number.isFinite(one) && one !== 0).toBe(true);
  });

  it("the layer × position sweep: causal zeros before the changed token, 1 at the read position of the last block", () => {
    const r = lab.activationPatching(model, clean, corrupted, target);
    expect(r.layers).toEqual([...Array(L).keys()]);
    expect(r.restored.every((row) => row.length === T)).toBe(true);
    // Positions before the one that differs carry the same activations in both runs.
    for (const row of r.restored) for (let p = 0; p < 3; p++) expect(row[p]).toBe(0);
    // The last block's residual at the read position is all the logits see; elsewhere it reaches nothing.
    expect(r.restored[L - 1][T - 1]).toBe(1);
    for (let p = 0; p < T - 1; p++) expect(r.restored[L - 1][p]).toBe(0);
    // At layer 0 only the changed token holds the difference.
    expect(Math.abs(r.restored[0][3])).toBeGreaterThan(0.1);
    const fig = lab.activationPatchingView(r);
    expect((fig.data[0].z as number[][]).length).toBe(L);
    const m = lab.activationPatching(model, clean, corrupted, { ...target, point: "mixer", layers: [0, L - 1] });
    expect(m.layers).toEqual([0, L - 1]);
    expect(m.restored[0].slice(0, 3)).toEqual([0, 0, 0]);
  });

  it("refuses prompts of different lengths, tokens outside the vocabulary, and the same logit difference on both", () => {
    expect(() => lab.activationPatching(model, clean, clean.slice(1), target)).toThrow(/8 tokens and the corrupted 7/);
    expect(() => lab.activationPatching(model, clean, corrupted, { answer: V, wrong: 0 })).toThrow(/answer token \d+ is outside/);
    expect(() => lab.patchingBaseline(model, clean, clean, target)).toThrow(/on both prompts, so nothing can be restored/);
    const ac = new AbortController();
    ac.abort();
    expect(() => lab.activationPatching(model, clean, corrupted, { ...target, signal: ac.signal })).toThrow();
  });
});

describe("quantization in context", () => {
  it("no error before the first quantized block, error from it on; the model is reverted", () => {
    const model = NemotronH.load(path.join(fixture("golden"), "f32_g2_chunk8"));
    const toks = [3, 17, 42, 5, 99, 7, 11, 200];
    const before = model.logits(toks);
    const rows = lab.quantizationErrorByHook(model, toks, { layers: "layers:2" });
    expect(model.replacedWeights()).toEqual([]);
    expect(model.logits(toks)).toEqual(before);
    const blocks = rows.filter((r) => r.point === "block");
    expect(blocks.map((r) => r.layer)).toEqual([...Array(model.config.num_hidden_layers).keys()]);
    for (const r of rows) {
      if (r.layer < 2) expect(r.relError, r.name).toBe(0);
      else expect(r.relError, r.name).toBeGreaterThan(0);
    }
    expect(rows.find((r) => r.name === "backbone.embeddings")!.relError).toBe(0);
    const fig = lab.quantizationErrorView(rows);
    expect(fig.data.slice(1).map((t) => t.name)).toEqual(expect.arrayContaining(["mamba", "attention"]));
    expect(() => lab.quantizationErrorView(rows.filter((r) => r.point !== "mixer"), "mixer")).toThrow(/no 'mixer' hooks/);
  });
});
