// Input (activation) quantization inside the native NemotronH: calibration sees the real
// linear inputs, and the fake-quantized MLP equals an independent computation from its weights.
import { beforeAll, describe, expect, it } from "vitest";
import { NemotronH, decodeFp8, encodeFp8, makeTiny, quantizeModel } from "../src/index";
import { tempDir } from "./helpers";

let dir: string;
const ids = [1, 5, 9, 200, 17, 3, 44];
beforeAll(async () => {
  dir = tempDir();
  await makeTiny(dir, { pattern: "M-*", dtype: "f32", seed: 5 });
});

/** The ReLU² MLP of layer 1 in float64 on an input x (T, H). */
function mlp(model: NemotronH, x: Float32Array, T: number): Float64Array {
  const up = model.weight("backbone.layers.1.mixer.up_proj.weight"), down = model.weight("backbone.layers.1.mixer.down_proj.weight");
  const U = up.values(), D = down.values(), I = up.rows, H = up.cols;
  const out = new Float64Array(T * H);
  for (let t = 0; t < T; t++) {
    const u = new Float64Array(I);
    for (let i = 0; i < I; i++) {
      let s = 0;
      for (let h = 0; h < H; h++) s += U[i * H + h] * x[t * H + h];
      u[i] = s > 0 ? s * s : 0;
    }
    for (let h = 0; h < H; h++) {
      let s = 0;
      for (let i = 0; i < I; i++) s += D[h * I + i] * u[i];
      out[t * H + h] = s;
    }
  }
  return out;
}

function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, m = 0;
  for (let i = 0; i < a.length; i++) { d = Math.max(d, Math.abs(a[i] - b[i])); m = Math.max(m, Math.abs(b[i])); }
  return d / m;
}

describe("input quantization in the native model", () => {
  it("observes the max |input| of a linear: the block's normalised input", () => {
    const model = NemotronH.load(dir);
    const obs = model.observeInputAmax(["backbone.layers.1.mixer.up_proj.weight"]);
    const { cache } = model.runWithCache(ids, ["backbone.layers.1.norm"]);
    const amax = obs.stop().get("backbone.layers.1.mixer.up_proj.weight")!;
    expect(amax).toBe(cache.get("backbone.layers.1.norm")!.reduce((a, v) => Math.max(a, Math.abs(v)), 0));
    expect(model.observeInputAmax(["backbone.layers.1.mixer.up_proj.weight"]).stop().get("backbone.layers.1.mixer.up_proj.weight")).toBe(0);
  });

  it("static and dynamic FP8 inputs give the MLP output of the fake-quantized input, and off restores", () => {
    const model = NemotronH.load(dir);
    const T = ids.length, H = model.config.hidden_size;
    const before = model.logits(ids);
    const x = model.runWithCache(ids, ["backbone.layers.1.norm"]).cache.get("backbone.layers.1.norm")!;
    const name = "backbone.layers.1.mixer.up_proj.weight";
    const fq = (v: Float32Array, s: number) => decodeFp8(encodeFp8(v.map((e) => e / s), "e4m3"), "e4m3", s);
    // static: one scale for the tensor
    model.setInputQuant(name, { format: "e4m3", mode: "static", scale: 0.01 });
    let got = model.runWithCache(ids, ["backbone.layers.1.mixer"]).cache.get("backbone.layers.1.mixer")!;
    expect(maxRelDiff(got, mlp(model, fq(x, 0.01), T))).toBeLessThan(1e-5);
    expect(maxRelDiff(got, mlp(model, x, T))).toBeGreaterThan(1e-4);  // the quantization is visible
    // dynamic: a scale per token
    model.setInputQuant(name, { format: "e4m3", mode: "dynamic" });
    got = model.runWithCache(ids, ["backbone.layers.1.mixer"]).cache.get("backbone.layers.1.mixer")!;
    const xq = new Float32Array(x.length);
    for (let t = 0; t < T; t++) {
      const row = x.subarray(t * H, (t + 1) * H);
      const s = Math.fround(row.reduce((a, v) => Math.max(a, Math.abs(v)), 0) / 448);
      xq.set(fq(row, s), t * H);
    }
    expect(maxRelDiff(got, mlp(model, xq, T))).toBeLessThan(1e-5);
    model.setInputQuant(name, undefined);
    expect(model.logits(ids)).toEqual(before);
    expect(() => model.setInputQuant("backbone.layers.1.norm.weight", { format: "e4m3", mode: "dynamic" })).toThrow(/not a linear weight/);
    expect(() => model.setInputQuant(name, { format: "e4m3", mode: "static", scale: 0 })).toThrow(/positive/);
  });

  it("quantizeModel calibrates static input scales on prompts for the real model, and revert restores exactly", () => {
    const model = NemotronH.load(dir);
    const before = model.logits(ids);
    const s = quantizeModel(model, { layers: "mlp", activations: { mode: "static", prompts: [ids, [3, 3, 7]] } });
    expect(s.entries.every((e) => e.inputScale! > 0)).toBe(true);
    const q = model.logits(ids);
    expect(maxRelDiff(q, before)).toBeGreaterThan(0);
    s.revert();
    expect(model.logits(ids)).toEqual(before);
  });
});
