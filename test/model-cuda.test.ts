// NemotronH on the CUDA backend: the backend is chosen at load ("cuda" fails clearly
// without a device, "auto" falls back to cpu); with a device, the golden logits (HF
// transformers, float64) hold on cuda as on cpu, and a tiny hybrid model with MoE agrees
// with the cpu backend on the full pass, step-by-step decode from a cloned state,
// captured activations, and a weight swap (which must drop the device's cached copy).
// Without a device the cuda cases are skipped, with a note saying why.
import * as fs from "fs";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { NemotronH, Tensor, availableBackends, cudaUnavailable, encodeFp8, makeTiny, readNpy } from "../src/index";
import { fixture, tempDir } from "./helpers";

const hasCuda = availableBackends().includes("cuda");
if (!hasCuda) console.warn(`\n*** model-cuda.test.ts: CUDA model cases SKIPPED: no CUDA device (${cudaUnavailable()}) ***\n`);

function rel(a: Float32Array, b: ArrayLike<number>): number {
  let d = 0, m = 0;
  for (let i = 0; i < b.length; i++) { d = Math.max(d, Math.abs(a[i] - b[i])); m = Math.max(m, Math.abs(b[i])); }
  return d / m;
}

const ids = Array.from({ length: 41 }, (_, i) => (i * 37 + 5) % 1024);  // crosses chunk (16) boundaries
let dir: string;

beforeAll(async () => {
  dir = path.join(tempDir("nl-model-cuda-"), "bf16");
  await makeTiny(dir, { pattern: "M-M*-M*E", seed: 3, config: { n_routed_experts: 4, num_experts_per_tok: 2, moe_intermediate_size: 64, moe_shared_expert_intermediate_size: 64, n_group: 2, topk_group: 1, norm_topk_prob: true, routed_scaling_factor: 1.5 } });
});

describe("backend selection", () => {
  it("reports the backend it runs on; auto picks cuda exactly when a device exists", () => {
    expect(NemotronH.load(dir).backend).toBe("cpu");
    expect(NemotronH.load(dir, { backend: "reference" }).backend).toBe("reference");
    expect(NemotronH.load(dir, { backend: "auto" }).backend).toBe(hasCuda ? "cuda" : "cpu");
    expect(() => NemotronH.load(dir, { backend: "tpu" as never })).toThrow(/backend must be "cpu", "reference", "cuda" or "auto"/);
  });
  it.skipIf(hasCuda)("asking for cuda without a device fails with the reason", () => {
    expect(() => NemotronH.load(dir, { backend: "cuda" })).toThrow(/^no CUDA device \(.+\)$/);
  });
});

describe.skipIf(!hasCuda)("cuda agrees with cpu on a tiny hybrid model (Mamba, attention, MLP, MoE)", () => {
  it("full pass, decode from a cloned state, and captures", () => {
    const cpu = NemotronH.load(dir), gpu = NemotronH.load(dir, { backend: "cuda" });
    const full = cpu.logits(ids);
    expect(rel(gpu.logits(ids), full)).toBeLessThan(1e-5);
    const V = gpu.vocabSize;
    const st = gpu.newState();
    gpu.forward(ids.slice(0, 20), st);
    const copy = st.clone();
    for (let t = 20; t < ids.length; t++) {
      expect(rel(gpu.forward([ids[t]], st), full.subarray(t * V, (t + 1) * V))).toBeLessThan(1e-5);
    }
    expect(rel(gpu.forward([ids[20]], copy), full.subarray(20 * V, 21 * V))).toBeLessThan(1e-5);
    const names = ["backbone.embeddings", "backbone.layers.1", "backbone.layers.2.mixer", "backbone.norm_f"];
    const a = cpu.runWithCache(ids.slice(0, 8), names).cache, b = gpu.runWithCache(ids.slice(0, 8), names).cache;
    for (const n of names) expect(rel(b.get(n)!, a.get(n)!)).toBeLessThan(1e-5);
  });

  it("a swapped weight is used (the device copy of the old one is dropped), and restore brings it back", () => {
    const cpu = NemotronH.load(dir), gpu = NemotronH.load(dir, { backend: "cuda" });
    const before = gpu.logits(ids);
    const name = "backbone.layers.0.mixer.in_proj.weight";
    const w = cpu.weight(name), vals = w.values();
    let amax = 0;
    for (const v of vals) amax = Math.max(amax, Math.abs(v));
    const q = Tensor.fromArray(name, encodeFp8(vals, "e4m3", { multiplier: 448 / amax }), [...w.shape], "F8_E4M3");
    q.scale = { tensor: Tensor.fromArray(name + "_scale", new Float32Array([amax / 448]), [1, 1]), granularity: "tensor", blockRows: w.rows, blockCols: w.cols };
    cpu.replaceWeight(name, q);
    gpu.replaceWeight(name, q);
    const swapped = gpu.logits(ids);
    expect(rel(swapped, before)).toBeGreaterThan(1e-6);
    expect(rel(swapped, cpu.logits(ids))).toBeLessThan(1e-5);
    gpu.restoreAll();
    expect(rel(gpu.logits(ids), before)).toBe(0);
  });
});

const GOLDEN = fixture("golden");
const cases = fs.readdirSync(GOLDEN).filter((d) => fs.existsSync(path.join(GOLDEN, d, "golden.json"))).sort();

describe.skipIf(!hasCuda)("golden logits on cuda (HF transformers, float64)", () => {
  for (const c of cases) {
    it(c, () => {
      const d = path.join(GOLDEN, c);
      const g = JSON.parse(fs.readFileSync(path.join(d, "golden.json"), "utf8")) as { ids: number[]; dt_clamp: boolean };
      const gold = readNpy(path.join(d, "logits.npy"));
      const model = NemotronH.load(d, { dtClamp: g.dt_clamp ? "hf" : "none", backend: "cuda" });
      expect(rel(model.logits(g.ids), gold.data as Float64Array)).toBeLessThanOrEqual(1e-5);
    });
  }
});
