import * as path from "path";
import { describe, expect, it } from "vitest";
import { Checkpoint, SafetensorsWriter, Tensor, encodeFp8, decodeFp8, float32ToBf16, inventory, inventoryText, makeTiny } from "../src/index";
import { tempDir } from "./helpers";

function randomValues(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = ((s / 2 ** 32) - 0.5) * 4 * (i % 7 === 0 ? 10 : 1);
  }
  return a;
}

/** numpy's percentile with linear interpolation, on a sorted copy. */
function percentile(values: Float32Array, q: number): number {
  const s = Float64Array.from(values).sort();
  const pos = (q / 100) * (s.length - 1);
  const lo = Math.floor(pos), hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

describe("Tensor statistics", () => {
  const values = randomValues(300_001, 7);
  values[5] = NaN; values[6] = Infinity; values[7] = -Infinity; values[8] = 0; values[9] = 0;
  const t = Tensor.fromArray("x", values, [300_001]);
  const finite = values.filter((v) => Number.isFinite(v));

  it("moments over the finite values, counts of zero/NaN/Inf, same as the single-threaded reference", () => {
    const s = t.stats();
    let sum = 0, sq = 0;
    for (const v of finite) { sum += v; sq += v * v; }
    const mean = sum / finite.length;
    expect(s.finite).toBe(finite.length);
    expect(s.nan).toBe(1); expect(s.posInf).toBe(1); expect(s.negInf).toBe(1);
    expect(s.zeros).toBe(finite.filter((v) => v === 0).length);
    expect(s.min).toBe(finite.reduce((a, b) => Math.min(a, b))); expect(s.max).toBe(finite.reduce((a, b) => Math.max(a, b)));
    expect(s.absmax).toBe(finite.reduce((a, b) => Math.max(a, Math.abs(b)), 0));
    expect(s.mean).toBeCloseTo(mean, 5);
    expect(s.rms).toBeCloseTo(Math.sqrt(sq / finite.length), 5);
    expect(s.std).toBeCloseTo(Math.sqrt(sq / finite.length - mean * mean), 5);
    const r = t.stats({ reference: true });
    expect(s.min).toBe(r.min); expect(s.max).toBe(r.max); expect(s.zeros).toBe(r.zeros);
    expect(Math.abs(s.mean - r.mean)).toBeLessThan(1e-6 * r.rms);
  });

  it("exact percentiles (numpy linear interpolation), in all dtypes of storage", () => {
    const qs = [0, 0.1, 1, 25, 50, 75, 99, 99.9, 100];
    const s = t.stats({ percentiles: qs });
    for (const q of qs) expect(s.percentiles![String(q)]).toBeCloseTo(percentile(finite, q), 5);
    const bf = Tensor.fromArray("b", float32ToBf16(values.slice(10)), [values.length - 10], "BF16");
    const bfValues = bf.values();
    expect(bf.stats({ percentiles: [50] }).percentiles!["50"]).toBe(percentile(bfValues, 50));
    expect(() => t.stats({ percentiles: [101] })).toThrow(/percentile 101/);
  });

  it("histograms with linear and log bins count every finite value once", () => {
    const h = t.histogram({ bins: 50 });
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(finite.length);
    const lo = h.edges[0], w = h.edges[1] - h.edges[0];
    const k = 17;
    const inBin = finite.filter((v) => v >= lo + k * w && v < lo + (k + 1) * w).length;
    expect(Math.abs(h.counts[k] - inBin)).toBeLessThanOrEqual(1);  // float edge rounding
    const lg = t.histogram({ bins: 20, log: true });
    expect(lg.counts.reduce((a, b) => a + b, 0) + lg.below + lg.above).toBe(finite.length);
    expect(lg.below).toBe(finite.filter((v) => v === 0).length);
    expect(lg.edges[1] / lg.edges[0]).toBeCloseTo(lg.edges[20] / lg.edges[19], 6);
  });

  it("16-bit tensors (counted by code) give the same percentiles and histograms as their float32 values", () => {
    const bf = Tensor.fromArray("b", float32ToBf16(values), [values.length], "BF16");
    const asF32 = Tensor.fromArray("f", bf.values(), [values.length]);
    const qs = [0.1, 3, 50, 97.5];
    const a = bf.stats({ percentiles: qs }), b = asF32.stats({ percentiles: qs });
    expect(a.percentiles).toEqual(b.percentiles);
    for (const k of ["min", "max", "absmax", "minAbsNonzero", "zeros", "nan", "posInf", "negInf", "finite"] as const) expect(a[k]).toBe(b[k]);
    // The F32 path sums in float lanes per span; the counted one in double: they agree to ~1e-6.
    for (const k of ["mean", "std", "rms"] as const) expect(Math.abs(a[k] - b[k])).toBeLessThan(1e-5 * b.rms);
    const h = bf.histogram({ bins: 8 });
    expect([h.edges[0], h.edges[8]]).toEqual([b.min, b.max]);
    for (const log of [false, true]) {
      const a = bf.histogram({ bins: 64, log }), b = asF32.histogram({ bins: 64, log });
      expect([...a.counts]).toEqual([...b.counts]);
      expect([a.below, a.above]).toEqual([b.below, b.above]);
    }
  });
});

describe("Tensor views", () => {
  const v = Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
  const t = Tensor.fromArray("w", v, [2, 3, 4]);
  it("rows, slices with indices and ranges", () => {
    expect([...t.row(1)]).toEqual([...v.slice(12)]);
    expect(t.slice(1, [1, 3], 2)).toEqual({ shape: [2], values: Float32Array.from([18, 22]) });
    expect(t.slice(null, 0).shape).toEqual([2, 4]);
    expect([...t.slice(null, 0).values]).toEqual([0, 1, 2, 3, 12, 13, 14, 15]);
    expect(t.slice(-1, -1, [0, 2]).values).toEqual(Float32Array.from([20, 21]));
    expect(() => t.slice(2)).toThrow(/'?w'?.*index 2 out of range/);
    expect(() => t.row(5)).toThrow(/row 5/);
  });
});

describe("FP8 weights with scales are one logical tensor", () => {
  it("per-tensor, per-row and 2-D block scales dequantise to codes x scale", async () => {
    const d = tempDir();
    const rows = 40, cols = 70;
    const w = randomValues(rows * cols, 3);
    const codes = encodeFp8(w, "e4m3");
    const decoded = decodeFp8(codes, "e4m3");
    const tensorScale = Float32Array.of(0.5);
    const rowScale = Float32Array.from({ length: rows }, (_, i) => 1 + i / 10);
    const blockScale = Float32Array.from({ length: Math.ceil(rows / 16) * Math.ceil(cols / 32) }, (_, i) => 2 ** (i % 5 - 2));
    const writer = new SafetensorsWriter(d)
      .add("a.weight", "F8_E4M3", [rows, cols], () => codes).add("a.weight_scale", "F32", [], () => tensorScale)
      .add("b.weight", "F8_E4M3", [rows, cols], () => codes).add("b.weight_scale", "F32", [rows, 1], () => rowScale)
      .add("c.weight", "F8_E4M3", [rows, cols], () => codes).add("c.weight_scale_inv", "F32", [3, 3], () => blockScale)
      .add("d.weight", "F8_E4M3", [rows, cols], () => codes);
    await writer.write();
    const ck = Checkpoint.open(d);
    const check = (name: string, scaleAt: (r: number, c: number) => number, granularity: string | undefined) => {
      const t = ck.tensor(name);
      expect(t.scale?.granularity).toBe(granularity);
      const got = t.values();
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) {
        expect(got[r * cols + c]).toBe(Math.fround(decoded[r * cols + c] * scaleAt(r, c)));
      }
      expect([...t.row(37)]).toEqual([...got.slice(37 * cols, 38 * cols)]);
      const s = t.stats({ percentiles: [10, 50, 90] });
      expect(s.absmax).toBe(got.reduce((a, b) => Math.max(a, Math.abs(b)), 0));
      const sorted = Float64Array.from(got).sort();
      expect(s.percentiles!["50"]).toBe((sorted[(sorted.length - 1) / 2 | 0] + sorted[Math.ceil((sorted.length - 1) / 2)]) / 2);
      expect(t.histogram({ bins: 10 }).counts.reduce((a, b) => a + b, 0)).toBe(rows * cols);
    };
    check("a.weight", () => 0.5, "tensor");
    check("b.weight", (r) => rowScale[r], "row");
    // 3x3 blocks over 40x70: block size is inferred as 16x32 (ceil(40/16) = 3, ceil(70/32) = 3)
    check("c.weight", (r, c) => blockScale[Math.floor(r / 16) * 3 + Math.floor(c / 32)], "block");
    check("d.weight", () => 1, undefined);
    expect(ck.weightFormat).toBe("fp8-block");
  });

  it("a scale tensor that fits no granularity is an error naming it", async () => {
    const d = tempDir();
    await new SafetensorsWriter(d).add("a.weight", "F8_E4M3", [4, 4], () => new Uint8Array(16))
      .add("a.weight_scale", "F32", [3], () => new Float32Array(3)).write();
    expect(() => Checkpoint.open(d)).toThrow(/a\.weight_scale.*\[3\].*\[4, 4\]/);
  });
});

describe("inventory", () => {
  it("lists every block with kind, tensors, parameters and bytes by dtype; totals add up", async () => {
    const d = tempDir();
    await makeTiny(d, { pattern: "M*-", dtype: "f8e4m3" });
    const ck = Checkpoint.open(d);
    const inv = inventory(ck);
    expect(inv.blocks.map((b) => b.kind)).toEqual(["embedding", "mamba", "attention", "mlp", "norm", "head"]);
    let params = 0;
    for (const t of ck.tensors.values()) if (!t.name.endsWith("_scale")) params += t.numel;
    expect(inv.params).toBe(params);
    expect(inv.bytes).toBe([...ck.tensors.values()].reduce((a, t) => a + t.nbytes, 0));
    expect(inv.blocks[1].bytesByDtype.F8_E4M3).toBe(ck.tensor("backbone.layers.0.mixer.in_proj.weight").nbytes + ck.tensor("backbone.layers.0.mixer.out_proj.weight").nbytes);
    expect(inv.weightFormat).toBe("fp8-modelopt");
    expect(inventoryText(inv)).toMatch(/backbone\.layers\.1\s+attention/);
    expect(path.basename(ck.files[0])).toBe("model.safetensors");
    const bundle = (ck as unknown as Record<symbol, () => Record<string, string>>)[Symbol.for("Jupyter.display")]();
    expect(bundle["text/html"]).toMatch(/<td[^>]*>backbone\.layers\.2<\/td><td[^>]*>mlp/);
    const t = ck.tensor("backbone.layers.0.mixer.in_proj.weight");
    const tb = (t as unknown as Record<symbol, () => Record<string, string>>)[Symbol.for("Jupyter.display")]();
    expect(tb["text/html"]).toMatch(/F8_E4M3/);
    expect(tb["text/plain"]).toMatch(/absmax: /);
  });
});
