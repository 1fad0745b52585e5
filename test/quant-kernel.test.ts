// The fused FP8 quantizer against torch (golden data from test/fixtures/quant/make_golden.py),
// against its own single-threaded reference, and against the bit-exact codec.
import { describe, expect, it } from "vitest";
import * as path from "path";
import { Checkpoint, quantizeArray, quantizeTensor, encodeFp8, decodeFp8, errorMetrics, dequantize, toFp8Tensor, Tensor } from "../src/index";
import type { Fp8Format, Granularity, QuantizeOptions } from "../src/index";

const golden = Checkpoint.open(path.join(__dirname, "fixtures", "quant", "golden.safetensors"));
const SCALES: Record<string, string> = { amax: "amax", percentile: "percentile:99.5", search: "search:10:0.5" };

function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return i;
  return -1;
}

describe("fused FP8 quantizer vs torch", () => {
  for (const input of ["bf16", "f32"]) {
    for (const format of ["e4m3", "e5m2"] as Fp8Format[]) {
      for (const granularity of ["tensor", "channel", "block"] as Granularity[]) {
        for (const scale of ["amax", "percentile", "search"]) {
          it(`${input} ${format} ${granularity} ${scale}: scales and codes match torch bit for bit`, () => {
            const key = `${input}.${format}.${granularity}.${scale}`;
            const x = golden.tensor(`input.${input}`);
            const q = quantizeTensor(x, { format, granularity, blockSize: 16, pad: true, scale: SCALES[scale] });
            const wantScales = golden.tensor(`${key}.scales`).values();
            const wantCodes = golden.tensor(`${key}.codes`).bytes();
            expect(q.scales.length).toBe(wantScales.length);
            expect(firstDiff(q.scales, wantScales)).toBe(-1);
            expect(firstDiff(q.codes, wantCodes)).toBe(-1);
          });
        }
      }
    }
  }
});

describe("fused FP8 quantizer vs its reference", () => {
  const rows = 200, cols = 300;
  const x = new Float32Array(rows * cols);
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < x.length; i++) x[i] = (rand() - 0.5) * Math.exp(rand() * 10 - 5);
  x[5] = 0; x[77] = 1e-12;
  for (const granularity of ["tensor", "channel", "block"] as Granularity[]) {
    for (const scale of ["amax", "percentile:99.9", "search:16:0.6"]) {
      it(`${granularity} ${scale}`, () => {
        const o: QuantizeOptions = { granularity, scale, blockSize: [64, 32], pad: true };
        const a = quantizeArray("x", x, [rows, cols], o), b = quantizeArray("x", x, [rows, cols], { ...o, reference: true });
        expect(firstDiff(a.scales, b.scales)).toBe(-1);
        expect(firstDiff(a.codes, b.codes)).toBe(-1);
        const ma = a.metrics!, mb = b.metrics!;
        expect(ma.count).toBe(rows * cols);
        expect(ma.sqnrDb).toBeCloseTo(mb.sqnrDb, 9);
        expect(ma.maxAbs).toBe(mb.maxAbs);
        expect(ma.fracClipped).toBe(mb.fracClipped);
        expect(ma.fracFlushedZero).toBe(mb.fracFlushedZero);
        expect(ma.fracSubnormal).toBe(mb.fracSubnormal);
        // ... and the single-pass metrics equal a separate computation on the dequantised values.
        const m = errorMetrics(x, dequantize(a));
        expect(ma.sqnrDb).toBeCloseTo(m.sqnrDb, 6);
        expect(ma.relL2).toBeCloseTo(m.relL2, 9);
        expect(ma.cosine).toBeCloseTo(m.cosine, 9);
        expect(ma.meanAbs).toBeCloseTo(m.meanAbs, 12);
      });
    }
  }
});

describe("fused encoder vs the codec", () => {
  it("every BF16 value divided by several scales encodes like encodeFp8, both formats", () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const f = new Float32Array(new Uint32Array(65536).map((_, i) => i << 16).buffer);
    for (const format of ["e4m3", "e5m2"] as Fp8Format[]) {
      for (const s of [1, 0.37, 3e-5, 1e4]) {
        const q = quantizeArray("all", all, [256, 256], { dtype: "BF16", format, scales: new Float32Array([s]), nonFinite: "warn", metrics: false });
        const want = encodeFp8(f.map((v) => Math.fround(v / s)), format);
        expect(firstDiff(q.codes, want)).toBe(-1);
      }
    }
  });
});

describe("quantizer metrics and errors", () => {
  it("counts clipped, flushed and subnormal values", () => {
    const x = new Float32Array([448, -10, 1, 1e-9, 0, 2 ** -8, 100000]);
    const q = quantizeArray("x", x, [1, 7], { scales: new Float32Array([1]) });
    const m = q.metrics!;
    expect(m.fracClipped).toBeCloseTo(1 / 7);     // 100000 > 448
    expect(m.fracFlushedZero).toBeCloseTo(1 / 6); // 1e-9 of the 6 non-zeros
    expect(m.fracSubnormal).toBeCloseTo(1 / 7);   // 2^-8
    expect(Array.from(decodeFp8(q.codes, "e4m3"))).toEqual([448, -10, 1, 0, 0, 2 ** -8, 448]);
  });

  it("refuses NaN/Inf unless asked, and says where", () => {
    const x = new Float32Array([1, NaN, 2, Infinity]);
    expect(() => quantizeArray("backbone.layers.0.mixer.in_proj.weight", x, [2, 2])).toThrow(/in_proj.*2 NaN\/Inf/);
    const q = quantizeArray("w", x, [2, 2], { nonFinite: "warn" });
    expect(q.warnings[0]).toMatch(/NaN\/Inf/);
    expect(q.scales[0]).toBe(Math.fround(2 / 448));
  });

  it("explains a block size that does not divide, and pads when asked", () => {
    const x = new Float32Array(100 * 64).fill(1);
    expect(() => quantizeArray("backbone.layers.3.mixer.out_proj.weight", x, [100, 64], { granularity: "block", blockSize: 32 }))
      .toThrow(/out_proj.*32x32 does not divide its \[100, 64\].*pad/);
    const q = quantizeArray("w", x, [100, 64], { granularity: "block", blockSize: 32, pad: true });
    expect(q.scaleShape).toEqual([4, 2]);
  });

  it("requantizes an FP8 tensor (dequantised with its scale first)", () => {
    const x = new Float32Array(64 * 32).map((_, i) => Math.sin(i) * 3);
    const q = quantizeArray("w", x, [64, 32], { granularity: "channel" });
    const t: Tensor = toFp8Tensor(q);
    expect(t.dtype).toBe("F8_E4M3");
    const again = quantizeTensor(t, { granularity: "channel" });
    expect(firstDiff(again.codes, q.codes)).toBe(-1);
    expect(firstDiff(t.values(), dequantize(q))).toBe(-1);
  });
});
