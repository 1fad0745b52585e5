// Live quantization of a model: selectors, replace/revert, report, activations, the
// effect on outputs and the sensitivity sweep, on the real NemotronH over tiny checkpoints
// (activation quantization also on the stand-in FakeLM; test/model-input-quant.test.ts covers the native model).
import { beforeAll, describe, expect, it } from "vitest";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Checkpoint, NemotronH, makeTiny, SafetensorsWriter, quantizeModel, selectTensors, tensorInfos, sensitivitySweep,
  evaluateQuantization, recordLogits, distributionShift, perplexity, greedy } from "../src/index";
import { FakeLM } from "./helpers/fake-quant-lm";

let dir: string, damaged: string;
const DAMAGED = "backbone.layers.2.mixer.in_proj.weight";
const prompts = [[1, 5, 9, 200, 17, 3], [4, 4, 80, 512, 33], [7, 100, 2, 900]];

beforeAll(async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "nl-quant-model-"));
  dir = path.join(root, "tiny");
  await makeTiny(dir, { dtype: "f32", pattern: "M-M*-M", seed: 3 });
  // The same model with one outlier in layer 2's in_proj: per-tensor FP8 flushes the rest of that tensor to zero.
  damaged = path.join(root, "damaged");
  const src = Checkpoint.open(dir);
  const w = new SafetensorsWriter(damaged, { metadata: { format: "pt" } });
  for (const n of src.names()) {
    const t = src.tensor(n);
    w.add(n, t.dtype, [...t.shape], () => {
      if (n !== DAMAGED) return t.bytes();
      const v = t.values().slice();
      v[0] = 5e4;
      return v;
    });
  }
  await w.write();
  fs.copyFileSync(path.join(dir, "config.json"), path.join(damaged, "config.json"));
});

function same(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

describe("selectors", () => {
  const names = (sel: string, force = false) => selectTensors(sel, tensorInfos(Checkpoint.open(dir).config!), { force });
  it("kinds, layers, exclusions, intersections, globs and presets", () => {
    expect(names("mamba")).toEqual(["backbone.layers.0.mixer.in_proj.weight", "backbone.layers.0.mixer.out_proj.weight",
      "backbone.layers.2.mixer.in_proj.weight", "backbone.layers.2.mixer.out_proj.weight", "backbone.layers.5.mixer.in_proj.weight", "backbone.layers.5.mixer.out_proj.weight"]);
    expect(names("mamba,mlp").length).toBe(6 + 4);
    expect(names("layers:3").every((n) => n.startsWith("backbone.layers.3.mixer.") && /proj\.weight$/.test(n))).toBe(true);
    expect(names("layers:0-1+5")).toEqual(names("backbone.layers.0.*,backbone.layers.1.*,backbone.layers.5.*"));
    expect(names("!attention")).toEqual(names("all-linear").filter((n) => !n.includes("layers.3.")));
    expect(names("mamba&layers:2-5,!*.out_proj")).toEqual(["backbone.layers.2.mixer.in_proj.weight", "backbone.layers.5.mixer.in_proj.weight"]);
    expect(names("backbone.layers.*.mixer.in_proj")).toEqual(names("mamba&*.in_proj"));
    expect(names("all-linear")).toContain("lm_head.weight");
    const nv = names("nvidia-fp8");
    expect(nv).toEqual(names("mamba,mlp"));
    expect(nv.some((n) => n.includes("q_proj") || n === "lm_head.weight")).toBe(false);
  });
  it("says what exists when nothing matches, and refuses high-precision tensors unless forced", () => {
    expect(() => names("moe")).toThrow(/'moe' matches no tensor.*kinds mamba \(layers 0,2,5\).*attention \(layers 3\)/);
    expect(() => names("layers:40-50")).toThrow(/matches no tensor.*layers 0-5/);
    expect(() => names("atention")).toThrow(/unknown word 'atention'/);
    expect(() => names("*.A_log")).toThrow(/must stay in high precision.*A_log/);
    expect(names("*.A_log", true)).toHaveLength(3);
    expect(names("backbone.layers.0.*")).toEqual(["backbone.layers.0.mixer.in_proj.weight", "backbone.layers.0.mixer.out_proj.weight"]);
  });
});

describe("live quantization", () => {
  it("replaces the selected weights with FP8, changes the logits, and reverts exactly", () => {
    const model = NemotronH.load(dir);
    const before = model.logits(prompts[0]);
    const s = quantizeModel(model, { layers: "mamba,mlp", granularity: "channel" });
    expect(s.names).toHaveLength(10);
    expect(model.weight("backbone.layers.0.mixer.in_proj.weight").dtype).toBe("F8_E4M3");
    expect(model.weight("backbone.layers.0.mixer.in_proj.weight").scale!.tensor.shape).toEqual([model.weight("backbone.layers.0.mixer.in_proj.weight").rows, 1]);
    expect(model.weight("backbone.layers.3.mixer.q_proj.weight").dtype).toBe("F32");
    const after = model.logits(prompts[0]);
    expect(same(before, after)).toBe(false);
    s.revert();
    expect(model.weight("backbone.layers.0.mixer.in_proj.weight").dtype).toBe("F32");
    expect(same(before, model.logits(prompts[0]))).toBe(true);
  });

  it("reports the error per tensor as text and a sortable HTML table", () => {
    const model = NemotronH.load(dir);
    const s = quantizeModel(model, { layers: "all-linear", granularity: "block", blockSize: 8, scale: "search:8:0.7" });
    const r = s.report;
    expect(r.rows).toHaveLength(model.linearWeights().length);
    for (const row of r.rows) {
      expect(row.metrics.sqnrDb).toBeGreaterThan(15);
      expect(row.metrics.cosine).toBeGreaterThan(0.99);
      expect(row.scaleChoice).toBe("search:8:0.7");
    }
    const text = r.toString();
    expect(text).toMatch(/SQNR dB/);
    expect(text).toMatch(/backbone\.layers\.3\.mixer\.q_proj\.weight/);
    const bundle = (s as unknown as Record<symbol, () => Record<string, string>>)[Symbol.for("Jupyter.display")]();
    expect(bundle["text/html"]).toMatch(/<table[^>]*>.*onclick="nlSort_/s);
    expect(bundle["text/plain"]).toBe(text);
    s.revert();
  });

  it("quantizes activations statically (calibrated) or per token, through the model's hook", () => {
    const model = new FakeLM(Checkpoint.open(dir));
    const w = quantizeModel(model, { layers: "mlp" });
    const weightOnly = model.logits(prompts[1]);
    w.revert();
    const st = quantizeModel(model, { layers: "mlp", activations: { mode: "static", prompts } });
    expect(st.entries.every((e) => e.inputScale! > 0)).toBe(true);
    expect(st.report.rows[0].inputScale).toBe(st.entries[0].inputScale);
    const stat = model.logits(prompts[1]);
    st.revert();
    const dy = quantizeModel(model, { layers: "mlp", activations: { mode: "dynamic" } });
    const dyn = model.logits(prompts[1]);
    dy.revert();
    expect(same(stat, weightOnly)).toBe(false);
    expect(same(dyn, weightOnly)).toBe(false);
    expect(() => quantizeModel(model, { layers: "mlp", activations: { mode: "static" } })).toThrow(/calibration prompts/);
  });

  it("leaves the model untouched when a tensor cannot be quantized", () => {
    const model = NemotronH.load(dir);
    const before = model.logits(prompts[2]);
    expect(() => quantizeModel(model, { layers: "all-linear", granularity: "block", blockSize: 48 })).toThrow(/48x48 does not divide.*pad/);
    expect(same(before, model.logits(prompts[2]))).toBe(true);
  });
});

describe("effect on the model", () => {
  it("KL, top-1 agreement, perplexity and greedy generations, original vs quantized", () => {
    const model = NemotronH.load(dir);
    const { session, comparison } = evaluateQuantization(model, { layers: "all-linear" }, { prompts, perplexityIds: prompts[0], generate: 5 });
    expect(comparison.shift.tokens).toBe(prompts.reduce((a, p) => a + p.length, 0));
    expect(comparison.shift.klMean).toBeGreaterThan(0);
    expect(comparison.shift.klMax).toBeGreaterThanOrEqual(comparison.shift.klP99);
    expect(comparison.shift.top1Agreement).toBeGreaterThan(0.5);
    expect(comparison.perplexity!.quantized).not.toBe(comparison.perplexity!.base);
    expect(comparison.generations[0].base).toHaveLength(5);
    expect(comparison.toString()).toMatch(/KL mean/);
    session.revert();
    // The identical model has zero shift; perplexity and greedy are consistent with forward.
    const a = recordLogits(model, prompts), b = recordLogits(model, prompts);
    expect(distributionShift(a, b).klMax).toBe(0);
    expect(distributionShift(a, b).top1Agreement).toBe(1);
    expect(perplexity(model, prompts[0])).toBeGreaterThan(1);
    const g = greedy(model, prompts[0], 3);
    const full = model.logits([...prompts[0], g[0], g[1]]);
    const V = model.vocabSize, T = prompts[0].length + 2;
    const last = full.subarray((T - 1) * V, T * V);
    expect(last.indexOf(Math.max(...last))).toBe(g[2]);
  });

  it("the sensitivity sweep ranks the damaged layer first, and reverts every group", () => {
    const model = NemotronH.load(damaged);
    const before = model.logits(prompts[0]);
    const res = sensitivitySweep(model, { prompts, by: "tensor", granularity: "tensor" });
    expect(res.rows[0].tensors).toEqual([DAMAGED]);
    expect(res.rows[0].rank).toBe(1);
    expect(res.rows[0].klMean).toBeGreaterThan(10 * res.rows[1].klMean);
    expect(same(before, model.logits(prompts[0]))).toBe(true);
    const byLayer = sensitivitySweep(model, { prompts, by: "layer" });
    expect(byLayer.rows[0].group).toBe("backbone.layers.2");
    expect(byLayer.toString()).toMatch(/ranked by KL/);
    const ac = new AbortController();
    ac.abort();
    expect(() => sensitivitySweep(model, { prompts, signal: ac.signal })).toThrow();
  });
});
