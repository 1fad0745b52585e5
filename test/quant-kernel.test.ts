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

/** |a - b| <= tol * |b| (b the reference value). */
function relClose(a: number, b: number, tol: number): void {
  expect(Math.abs(a - b)).toBeLessThanOrEqual(tol * Math.abs(b));
}

type Metrics = NonNullable<ReturnType<typeof quantizeArray>["metrics"]>;

/**
 * Fused metrics against the reference's. The AVX-512 kernel sums the error terms in float over
 * runs of 256 elements (16 terms per lane, each sum of non-negative terms, each term within 2
 * float roundings) before folding them into doubles, so each sum is within 18 float ulps
 * (1.1e-6) relative of the double-only reference: SQNR within 10/ln(10) * 2.2e-6 < 2e-5 dB,
 * relL2 and meanAbs within 2e-6, cosine (three sums) within 3e-6 relative. Counts and maxAbs
 * stay exact (exact: false for a separately computed reference, which has no counts).
 */
function expectMetricsMatch(ma: Metrics, mb: { sqnrDb: number; relL2: number; cosine: number; meanAbs: number } & Partial<Metrics>, exact = true): void {
  expect(Math.abs(ma.sqnrDb - mb.sqnrDb)).toBeLessThanOrEqual(2e-5);
  relClose(ma.relL2, mb.relL2, 2e-6);
  relClose(ma.cosine, mb.cosine, 3e-6);
  relClose(ma.meanAbs, mb.meanAbs, 2e-6);
  if (!exact) return;
  expect(ma.maxAbs).toBe(mb.maxAbs);
  expect(ma.fracClipped).toBe(mb.fracClipped);
  expect(ma.fracFlushedZero).toBe(mb.fracFlushedZero);
  expect(ma.fracSubnormal).toBe(mb.fracSubnormal);
}

describe("fused FP8 quantizer vs its reference", () => {
  const rows = 200, cols = 300;
  const x = new Float32Array(rows * cols);
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < x.length; i++) x[i] = (rand() - 0.5) * Math.exp(rand() * 10 - 5);
  x[5] = 0; x[77] = 1e-12;
  for (const granularity of ["tensor", "channel", "block"] as Granularity[]) {
    for (const scale of ["amax", "percentile:99.9", "percentile:50", "search:16:0.6"]) {
      it(`${granularity} ${scale}`, () => {
        const o: QuantizeOptions = { granularity, scale, blockSize: [64, 32], pad: true };
        const a = quantizeArray("x", x, [rows, cols], o), b = quantizeArray("x", x, [rows, cols], { ...o, reference: true });
        expect(firstDiff(a.scales, b.scales)).toBe(-1);
        expect(firstDiff(a.codes, b.codes)).toBe(-1);
        const ma = a.metrics!, mb = b.metrics!;
        expect(ma.count).toBe(rows * cols);
        expectMetricsMatch(ma, mb);
        // ... and the single-pass metrics equal a separate computation on the dequantised values.
        expectMetricsMatch(ma, errorMetrics(x, dequantize(a)), false);
      });
    }
  }
});

describe("fused metrics on BF16 spans with the rare cases", () => {
  // Long rows of BF16 (the SIMD paths' 64/128-element runs), with NaN / Inf in some runs,
  // values clipped by a given scale, values flushed to zero or coded as the smallest
  // subnormal; every count and maxAbs must equal the reference exactly.
  const rows = 24, cols = 1000;
  const bits = new Uint16Array(rows * cols);
  let seed = 11;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
  for (let i = 0; i < bits.length; i++) {
    f32[0] = (rand() - 0.5) * Math.exp(rand() * 16 - 8);
    bits[i] = u32[0] >>> 16;
  }
  bits[3 * cols + 200] = 0x7fc0; bits[7 * cols + 5] = 0x7f80; bits[9 * cols + 999] = 0xff80;  // NaN, +Inf, -Inf
  for (const format of ["e4m3", "e5m2"] as Fp8Format[]) {
    for (const [name, o] of [["channel amax", { granularity: "channel" }], ["tensor, clipping scale", { scales: new Float32Array([1e-3]) }],
      ["block amax", { granularity: "block", blockSize: 128, pad: true }], ["channel percentile", { granularity: "channel", scale: "percentile:99.9" }],
      ["tensor percentile", { granularity: "tensor", scale: "percentile:99.99" }], ["channel search", { granularity: "channel", scale: "search:12:0.5" }],
      ["tensor search", { granularity: "tensor", scale: "search:12:0.5" }]] as const) {
      it(`${format} ${name}`, () => {
        const opts: QuantizeOptions = { dtype: "BF16", format, nonFinite: "warn", metrics: true, ...o };
        const a = quantizeArray("x", bits, [rows, cols], opts), b = quantizeArray("x", bits, [rows, cols], { ...opts, reference: true });
        expect(firstDiff(a.scales, b.scales)).toBe(-1);
        expect(firstDiff(a.codes, b.codes)).toBe(-1);
        const ma = a.metrics!, mb = b.metrics!;
        expect(ma.count).toBe(rows * cols - 3);
        expectMetricsMatch(ma, mb);
      });
    }
  }
});

describe("fused quantizer on F16 input vs its reference", () => {
  const rows = 37, cols = 1001;
  const h = new Uint16Array(rows * cols);
  let seed = 5;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < h.length; i++) h[i] = Math.floor(rand() * 0x7bff) | (rand() < 0.5 ? 0x8000 : 0);  // every finite F16 magnitude
  for (const granularity of ["tensor", "channel", "block"] as Granularity[]) {
    for (const format of ["e4m3", "e5m2"] as Fp8Format[]) {
      it(`${granularity} ${format}`, () => {
        const o: QuantizeOptions = { dtype: "F16", granularity, format, metrics: true, blockSize: 128, pad: true };
        const a = quantizeArray("h", h, [rows, cols], o), b = quantizeArray("h", h, [rows, cols], { ...o, reference: true });
        expect(firstDiff(a.scales, b.scales)).toBe(-1);
        expect(firstDiff(a.codes, b.codes)).toBe(-1);
        expectMetricsMatch(a.metrics!, b.metrics!);
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
