// NemotronH on tiny random checkpoints: the decode and continued-prefill paths agree with
// the full pass, the fast kernels agree with the reference backend, weights swap and
// restore exactly, activations are captured by hook name, and bad input fails clearly.
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { NemotronH, Tensor, makeTiny, encodeFp8, readNpy } from "../src/index";
import { cli, tempDir } from "./helpers";

function rel(a: Float32Array, b: Float32Array): number {
  let d = 0, m = 0;
  for (let i = 0; i < b.length; i++) { d = Math.max(d, Math.abs(a[i] - b[i])); m = Math.max(m, Math.abs(b[i])); }
  return d / m;
}

const ids = Array.from({ length: 41 }, (_, i) => (i * 37 + 5) % 1024);  // crosses chunk (16) boundaries
let dir: string;
let fp8dir: string;
let model: NemotronH;

beforeAll(async () => {
  const root = tempDir("nl-model-");
  dir = path.join(root, "bf16");
  fp8dir = path.join(root, "fp8");
  await makeTiny(dir, { pattern: "M-M*-M*E", seed: 3, config: { n_routed_experts: 4, num_experts_per_tok: 2, moe_intermediate_size: 64, moe_shared_expert_intermediate_size: 64, n_group: 2, topk_group: 1, norm_topk_prob: true, routed_scaling_factor: 1.5 } });
  await makeTiny(fp8dir, { pattern: "M-*", dtype: "f8e4m3", seed: 4 });
  model = NemotronH.load(dir);
});

describe("NemotronH paths", () => {
  it("agrees with the reference backend (plain kernels) on the full pass", () => {
    const ref = NemotronH.load(dir, { backend: "reference" });
    expect(rel(model.logits(ids), ref.logits(ids))).toBeLessThan(1e-5);
  });

  it("step-by-step decode matches the full pass", () => {
    const full = model.logits(ids);
    const st = model.newState();
    const V = model.vocabSize;
    for (let t = 0; t < ids.length; t++) {
      const row = model.forward([ids[t]], st);
      expect(rel(row, full.subarray(t * V, (t + 1) * V))).toBeLessThan(1e-5);
    }
    expect(st.length).toBe(ids.length);
  });

  it("prefill + decode and two-part prefill match the full pass", () => {
    const full = model.logits(ids);
    const V = model.vocabSize;
    for (const cut of [1, 3, 16, 23]) {
      const st = model.newState();
      const a = model.forward(ids.slice(0, cut), st);
      const b = model.forward(ids.slice(cut), st);
      expect(rel(a, full.subarray(0, cut * V))).toBeLessThan(1e-5);
      expect(rel(b, full.subarray(cut * V))).toBeLessThan(1e-5);
    }
    const st = model.newState();
    const last = model.forward(ids, st, { lastOnly: true });
    expect(last.length).toBe(V);
    expect(rel(last, full.subarray((ids.length - 1) * V))).toBeLessThan(1e-6);
  });

  it("clone forks a sequence; reset starts over", () => {
    const st = model.newState();
    model.forward(ids.slice(0, 10), st);
    const fork = st.clone();
    const a = model.forward([7], st);
    const b = model.forward([7], fork);
    expect(rel(a, b)).toBe(0);
    st.reset();
    expect(st.length).toBe(0);
    expect(rel(model.forward([ids[0]], st), model.logits([ids[0]]))).toBeLessThan(1e-6);
  });

  it("runs an FP8 checkpoint and an in-memory FP8 swap through the FP8 kernels", () => {
    const m8 = NemotronH.load(fp8dir);
    const ref8 = NemotronH.load(fp8dir, { backend: "reference" });
    expect(rel(m8.logits(ids), ref8.logits(ids))).toBeLessThan(1e-5);

    const name = "backbone.layers.0.mixer.in_proj.weight";
    const before = model.logits(ids);
    const w = model.weight(name);
    const vals = w.values();
    let amax = 0;
    for (const v of vals) amax = Math.max(amax, Math.abs(v));
    const rowScale = new Float32Array(w.rows).fill(amax / 448);
    const codes = encodeFp8(vals, "e4m3", { multiplier: 448 / amax });
    const q = Tensor.fromArray(name, codes, [...w.shape], "F8_E4M3");
    q.scale = { tensor: Tensor.fromArray(name + "_scale", rowScale, [w.rows, 1]), granularity: "row", blockRows: 1, blockCols: w.cols };
    model.replaceWeight(name, q);
    expect(model.replacedWeights()).toEqual([name]);
    expect(model.weight(name)).toBe(q);
    const swapped = model.logits(ids);
    const e = rel(swapped, before);
    expect(e).toBeGreaterThan(0);
    expect(e).toBeLessThan(0.2);
    // The same dequantised values as F32 give the same logits (to fp32 rounding).
    model.replaceWeight(name, Tensor.fromArray(name, q.values(), [...w.shape]));
    expect(rel(model.logits(ids), swapped)).toBeLessThan(1e-5);
    model.restoreAll();
    expect(model.replacedWeights()).toEqual([]);
    expect(rel(model.logits(ids), before)).toBe(0);
  });

  it("captures activations by hook name, consistent with the logits", () => {
    const { logits, cache } = model.runWithCache(ids.slice(0, 8));
    expect(rel(logits, model.logits(ids.slice(0, 8)))).toBe(0);
    const H = model.config.hidden_size;
    expect(cache.get("backbone.layers.3")!.length).toBe(8 * H);
    // block output = previous block output + mixer output
    const prev = cache.get("backbone.layers.2")!, mix = cache.get("backbone.layers.3.mixer")!, out = cache.get("backbone.layers.3")!;
    const sum = prev.map((v, i) => v + mix[i]);
    expect(rel(out, sum)).toBeLessThan(1e-6);
    const { cache: c2 } = model.runWithCache(ids.slice(0, 8), ["backbone.embeddings", "backbone.layers.0.norm", "backbone.norm_f"]);
    expect([...c2.keys()]).toEqual(["backbone.embeddings", "backbone.layers.0.norm", "backbone.norm_f"]);
    expect(() => model.runWithCache(ids, ["backbone.layers.99"])).toThrow(/unknown hook/);
  });

  it("lists the linear weights by checkpoint path", () => {
    const lin = model.linearWeights();
    expect(lin).toContain("backbone.layers.0.mixer.in_proj.weight");
    expect(lin).toContain("backbone.layers.7.mixer.experts.3.down_proj.weight");
    expect(lin).toContain("lm_head.weight");
    expect(lin).not.toContain("backbone.layers.0.norm.weight");
  });

  it("rejects bad input clearly", () => {
    expect(() => model.logits([])).toThrow(/no token ids/);
    expect(() => model.logits([1, 5000])).toThrow(/5000 at position 1 is outside the vocabulary \[0, 1024\)/);
    expect(() => model.logits([1.5])).toThrow(/outside the vocabulary/);
    const st = model.newState({ maxTokens: 4 });
    model.forward([1, 2, 3], st);
    expect(() => model.forward([4, 5], st)).toThrow(/exceeds the state's maxTokens 4/);
    expect(st.length).toBe(3);
    const other = NemotronH.load(fp8dir);
    expect(() => model.forward([1], other.newState())).toThrow(/not made by this model/);
    const w = model.weight("backbone.layers.0.mixer.out_proj.weight");
    expect(() => model.replaceWeight(w.name, Tensor.fromArray(w.name, new Float32Array(4), [2, 2]))).toThrow(/shape \[2, 2\] differs/);
    expect(() => model.weight("nope")).toThrow(/no weight 'nope'/);
    const ac = new AbortController();
    ac.abort();
    expect(() => model.forward(ids, model.newState(), { signal: ac.signal })).toThrow();
  });
});

describe("nemotron-lab logits", () => {
  it("prints a summary and writes .npy equal to the API's logits", () => {
    const r = cli(["logits", dir, "--ids", "1,2,3"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/logits: float32 \[3, 1024\]/);
    expect(r.stdout).toMatch(/\[2\] id 3 -> top5 \d+:/);
    const out = path.join(tempDir(), "l.npy");
    expect(cli(["logits", dir, "--ids", "1,2,3", "--out", out]).code).toBe(0);
    const npy = readNpy(out);
    expect(npy.shape).toEqual([3, 1024]);
    expect(rel(npy.data as Float32Array, model.logits([1, 2, 3]))).toBe(0);
  });

  it("fails clearly on bad input", () => {
    const bad = (args: string[], re: RegExp) => {
      const r = cli(["logits", ...args]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(re);
    };
    bad([dir, "--ids", "1,99999"], /99999 at position 1 is outside the vocabulary/);
    bad([dir, "--ids", ""], /--ids is empty/);
    bad([dir, "--ids", "1,x"], /'x' is not a non-negative integer/);
    bad([dir], /--ids is required/);
    bad([dir, "--ids", "1,2,3", "--max-tokens", "2"], /context of 3 tokens exceeds --max-tokens 2/);
    bad([path.join(dir, "nope"), "--ids", "1"], /no such file or folder/);
  });
});
