// Lens views: the logit lens of the last block is the model's own prediction; norms and figures come from the cache.
import * as path from "path";
import { describe, expect, it } from "vitest";
import { NemotronH } from "../src/index";
import { attentionPatternView, effectiveAttentionView, logitLens, logitLensView, residualNorms, ssmStateNorms } from "../src/lens/views";
import { fixture } from "./helpers";

describe("lens views", () => {
  const model = NemotronH.load(path.join(fixture("golden"), "f32_g2_chunk8"));
  const toks = [3, 17, 42, 5, 99, 7, 11, 200];
  const cache = model.runWithCache(toks, { names: ["backbone.layers.*", "logits", "backbone.layers.0.mixer.ssm_state", "backbone.layers.0.mixer.effective_attention"] });

  it("logit lens: the last block through norm_f and lm_head gives the model's top-1 at every position", () => {
    const lens = logitLens(model, cache, 2);
    const L = model.config.num_hidden_layers, V = model.vocabSize;
    expect(lens.layers).toEqual(Array.from({ length: L }, (_, i) => i));
    for (let t = 0; t < toks.length; t++) {
      const row = cache.logits.subarray(t * V, (t + 1) * V);
      expect(lens.ids[L - 1][t][0]).toBe(row.indexOf(Math.max(...row)));
      expect(lens.probs[L - 1][t][0]).toBeGreaterThanOrEqual(lens.probs[L - 1][t][1]);
    }
    expect(logitLensView(model, cache).data[0].type).toBe("heatmap");
  });

  it("residual norms and SSM state norms are the norms of the recorded tensors", () => {
    const { rms } = residualNorms(cache);
    const b = cache.get("backbone.layers.2").row(4);
    expect(rms[2][4]).toBeCloseTo(Math.sqrt(b.reduce((a, v) => a + v * v, 0) / b.length), 5);
    const s = ssmStateNorms(cache, 0), st = cache.get("backbone.layers.0.mixer.ssm_state");
    expect(s.length).toBe(model.config.mamba_num_heads);
    const [, , P, N] = st.shape, head1 = st.row(5).subarray(P * N, 2 * P * N);
    expect(s[1][5]).toBeCloseTo(Math.sqrt(head1.reduce((a, v) => a + v * v, 0)), 4);
    const fig = effectiveAttentionView(cache, 0, 1);
    expect((fig.data[0].z as number[][]).length).toBe(toks.length);
    expect((attentionPatternView(cache, 3, 0).data[0].z as number[][])[0].slice(1).every((v) => v === 0)).toBe(true);
    const small = model.runWithCache(toks, { names: ["backbone.layers.0"] });
    expect(() => attentionPatternView(small, 3, 0)).toThrow(/not recorded; model\.runWithCache/);
  });
});
