// Every backend op on every backend (cpu, cuda) against the plain reference (after ggml's
// test-backend-ops), on NemotronH shapes with random data, by normalised error
// max|fast - ref| / max|ref|. Full Nano-9B shapes for the memory-bound matvecs; row
// subsets or short sequences where the fp64 reference would take too long. Cases of a
// backend this machine lacks (cuda without a device) are skipped, with a note saying why.
import { randomFillSync } from "crypto";
import { describe, expect, it } from "vitest";
import { native, DType, availableBackends, cudaUnavailable, Sampler } from "../src/index";
import type { SamplingOptions } from "../src/index";
import type { BackendName, OpBackend } from "../src/index";
import { dtypeCode } from "../src/tensor/dtype";
import { Rng } from "../src/util/random";

const nat = native();
const rng = new Rng(42);

const BACKENDS: BackendName[] = ["cpu", "cuda"];
const available = availableBackends();
if (!available.includes("cuda")) {
  console.warn(`\n*** kernels.test.ts: CUDA op cases SKIPPED: no CUDA device (${cudaUnavailable()}) ***\n`);
}

/** One test per backend, named "[backend] name"; skipped where the backend is missing. */
function eachBackend(name: string, fn: (be: BackendName) => void): void {
  for (const be of BACKENDS) it.skipIf(!available.includes(be))(`[${be}] ${name}`, () => fn(be));
}

function normErr(fast: Float32Array, ref: Float32Array): number {
  let d = 0, m = 0;
  for (let i = 0; i < ref.length; i++) { d = Math.max(d, Math.abs(fast[i] - ref[i])); m = Math.max(m, Math.abs(ref[i])); }
  return m === 0 ? d : d / m;
}

/** Random stored weights of moderate magnitude (no NaN/Inf codes). */
function randomWeights(dtype: DType, n: number): Uint8Array {
  const size = dtype === "F32" ? 4 : dtype === "BF16" || dtype === "F16" ? 2 : 1;
  const b = new Uint8Array(n * size);
  randomFillSync(b);
  if (dtype === "F32") {
    const u = new Uint32Array(b.buffer);
    for (let i = 0; i < n; i++) u[i] = (u[i] & 0x807fffff) | ((120 + (u[i] & 3)) << 23);
  } else if (dtype === "BF16") {
    const u = new Uint16Array(b.buffer);
    for (let i = 0; i < n; i++) u[i] = (u[i] & 0x807f) | ((120 + (u[i] & 3)) << 7);
  } else if (dtype === "F16") {
    const u = new Uint16Array(b.buffer);
    for (let i = 0; i < n; i++) u[i] = (u[i] & 0x83ff) | ((8 + (u[i] & 7)) << 10);
  } else if (dtype === "F8_E4M3") {
    for (let i = 0; i < n; i++) if ((b[i] & 0x7f) === 0x7f) b[i] ^= 1;
  } else {
    for (let i = 0; i < n; i++) if ((b[i] & 0x7c) === 0x7c) b[i] ^= 0x40;
  }
  return b;
}

interface Scale { values: Float32Array; br: number; bc: number }
function scaleFor(kind: "none" | "tensor" | "row" | "block", rows: number, cols: number, block = 128): Scale | null {
  if (kind === "none") return null;
  const [br, bc] = kind === "tensor" ? [rows, cols] : kind === "row" ? [1, cols] : [block, block];
  const n = Math.ceil(rows / br) * Math.ceil(cols / bc);
  return { values: rng.uniformArray(n, 0.001, 0.01), br, bc };
}

function linear(x: Float32Array, T: number, w: Uint8Array, dtype: DType, rows: number, cols: number, s: Scale | null,
  bias: Float32Array | null, be: OpBackend): Float32Array {
  const y = new Float32Array(T * rows);
  nat.opLinear(x, T, w, dtypeCode(dtype), rows, cols, s?.values ?? null, s?.br ?? 1, s?.bc ?? 1, bias, y, be);
  return y;
}

interface LinearCase { label: string; rows: number; cols: number; T: number; dtype: DType; scale: "none" | "tensor" | "row" | "block"; block?: number; bias?: boolean }

const LINEAR: LinearCase[] = [
  // decode: full Nano-9B shapes
  { label: "Nano-9B mamba in_proj 22656x4480 matvec", rows: 22656, cols: 4480, T: 1, dtype: "BF16", scale: "none" },
  { label: "Nano-9B mamba in_proj 22656x4480 matvec", rows: 22656, cols: 4480, T: 1, dtype: "F8_E4M3", scale: "tensor" },
  { label: "Nano-9B mlp down_proj 4480x15680 matvec", rows: 4480, cols: 15680, T: 1, dtype: "F8_E4M3", scale: "block", block: 128 },
  { label: "Nano-9B mlp up_proj 15680x4480 matvec", rows: 15680, cols: 4480, T: 1, dtype: "F8_E5M2", scale: "row" },
  { label: "Nano-9B attention k_proj 1024x4480 matvec", rows: 1024, cols: 4480, T: 1, dtype: "F16", scale: "none" },
  { label: "Nano-9B attention o_proj 4480x5120 matvec", rows: 4480, cols: 5120, T: 1, dtype: "F32", scale: "none" },
  { label: "Nano-9B mamba out_proj 4480x10240, 3 tokens", rows: 4480, cols: 10240, T: 3, dtype: "BF16", scale: "none" },
  // prefill GEMM: row subsets of Nano-9B weights, token counts off the 32-token blocks
  { label: "Nano-9B in_proj rows 0..299 x4480, 37 tokens (GEMM)", rows: 300, cols: 4480, T: 37, dtype: "BF16", scale: "none" },
  { label: "Nano-9B in_proj rows 0..299 x4480, 70 tokens (GEMM)", rows: 300, cols: 4480, T: 70, dtype: "F8_E4M3", scale: "block", block: 128 },
  { label: "Nano-9B down_proj rows 0..127 x15680, 33 tokens (GEMM)", rows: 127, cols: 15680, T: 33, dtype: "F8_E4M3", scale: "row" },
  { label: "Nano-9B q_proj rows 0..99 x4480, 9 tokens (GEMM)", rows: 100, cols: 4480, T: 9, dtype: "F16", scale: "none" },
  { label: "Nano-9B o_proj rows 0..63 x5120, 40 tokens (GEMM) + bias", rows: 64, cols: 5120, T: 40, dtype: "F32", scale: "none", bias: true },
  { label: "odd shape 37x50, 12 tokens, E5M2 blocks 16x10 (GEMM)", rows: 37, cols: 50, T: 12, dtype: "F8_E5M2", scale: "block", block: 10 },
  { label: "odd shape 37x50, 45 tokens (GEMM: one full packed block of 32, columns past the last 16)", rows: 37, cols: 50, T: 45, dtype: "BF16", scale: "none" },
  { label: "odd shape 37x50, 2 tokens, E4M3 blocks 10x10 + bias", rows: 37, cols: 50, T: 2, dtype: "F8_E4M3", scale: "block", block: 10, bias: true },
];

describe("linear: each backend vs reference", () => {
  for (const c of LINEAR) {
    eachBackend(`${c.label} ${c.dtype} scale ${c.scale}`, (be) => {
      const w = randomWeights(c.dtype, c.rows * c.cols);
      const s = scaleFor(c.scale, c.rows, c.cols, c.block);
      const x = rng.normalArray(c.T * c.cols, 1);
      const bias = c.bias ? rng.normalArray(c.rows, 1) : null;
      const err = normErr(linear(x, c.T, w, c.dtype, c.rows, c.cols, s, bias, be), linear(x, c.T, w, c.dtype, c.rows, c.cols, s, bias, true));
      expect(err).toBeLessThan(1e-5);
    });
  }

  eachBackend("FP8 NaN codes stay NaN in the fast kernels (matvec and GEMM)", (be) => {
    for (const [dtype, nan] of [["F8_E4M3", 0x7f], ["F8_E5M2", 0x7d]] as [DType, number][]) {
      for (const T of [1, 20]) {
        const w = randomWeights(dtype, 4 * 32);
        w[5] = nan;  // row 0
        const y = linear(rng.normalArray(T * 32, 1), T, w, dtype, 4, 32, null, null, be);
        for (let t = 0; t < T; t++) {
          expect(Number.isNaN(y[t * 4])).toBe(true);
          expect(Number.isNaN(y[t * 4 + 1])).toBe(false);
        }
      }
    }
  });
});

describe("other ops: each backend vs reference", () => {
  eachBackend("embedding: vocab 8192 x 4480 rows, BF16 and FP8 with row scales", (be) => {
    const ids = Int32Array.from([0, 8191, 17, 17, 4000]);
    for (const dtype of ["BF16", "F8_E4M3"] as DType[]) {
      const w = randomWeights(dtype, 8192 * 4480);
      const s = dtype === "BF16" ? null : scaleFor("row", 8192, 4480);
      const run = (ref: OpBackend) => {
        const out = new Float32Array(ids.length * 4480);
        nat.opEmbedding(w, dtypeCode(dtype), 8192, 4480, s?.values ?? null, s?.br ?? 1, s?.bc ?? 1, ids, out, ref);
        return out;
      };
      expect(normErr(run(be), run(true))).toBe(0);
    }
    const w = randomWeights("BF16", 16 * 8);
    expect(() => nat.opEmbedding(w, dtypeCode("BF16"), 16, 8, null, 1, 1, Int32Array.from([16]), new Float32Array(8), be)).toThrow(/outside the vocabulary/);
  });

  eachBackend("rmsnorm: Nano-9B block norm, 7 tokens x 4480", (be) => {
    const x = rng.normalArray(7 * 4480, 3), w = rng.normalArray(4480, 0.1, 1);
    const run = (ref: OpBackend) => { const y = new Float32Array(x.length); nat.opRmsnorm(x, 7, 4480, w, 1e-5, y, ref); return y; };
    expect(normErr(run(be), run(true))).toBeLessThan(1e-6);
  });

  eachBackend("gated rmsnorm: Nano-9B mixer norm, 5 tokens x 10240 in groups of 1280, z inside in_proj output (stride 22656)", (be) => {
    const T = 5, n = 10240, ldz = 22656;
    const y = rng.normalArray(T * n, 1), z = rng.normalArray(T * ldz, 2), w = rng.normalArray(n, 0.1, 1);
    const run = (ref: OpBackend) => { const o = new Float32Array(T * n); nat.opGatedRmsnorm(y, z, ldz, T, n, 1280, w, 1e-5, o, ref); return o; };
    expect(normErr(run(be), run(true))).toBeLessThan(1e-6);
  });

  eachBackend("conv1d + SiLU: Nano-9B xBC 12288 channels, K=4, sequence of 37 and a step, from a nonzero state", (be) => {
    const C = 12288, K = 4;
    const w = rng.normalArray(C * K, 0.5), b = rng.normalArray(C, 0.1), st0 = rng.normalArray((K - 1) * C, 1);
    for (const T of [37, 2, 1]) {
      const x = rng.normalArray(T * C, 1);
      const run = (ref: OpBackend) => {
        const st = st0.slice(), out = new Float32Array(T * C);
        nat.opConv1dSilu(x, T, C, K, w, b, st, out, ref);
        return { out, st };
      };
      const f = run(be), r = run(true);
      expect(normErr(f.out, r.out)).toBeLessThan(1e-6);
      expect(normErr(f.st, r.st)).toBe(0);
    }
  });

  eachBackend("dt softplus: 37 tokens x 128 heads, with and without HF's lower clamp", (be) => {
    const raw = rng.normalArray(37 * 128, 4), bias = rng.normalArray(128, 2, -4);
    for (const lo of [0, 0.001]) {
      const run = (ref: OpBackend) => { const dt = new Float32Array(raw.length); nat.opDtSoftplus(raw, 37, 128, bias, lo, Infinity, dt, ref); return dt; };
      expect(normErr(run(be), run(true))).toBeLessThan(1e-6);
    }
  });

  eachBackend("SSM: Nano-9B heads (128 x 80, 8 groups, state 128), chunked scan over 40 tokens (chunk 16) and 3 decode steps", (be) => {
    const nh = 128, P = 80, G = 8, N = 128;
    const A = Float32Array.from({ length: nh }, () => -Math.exp(Math.log(1 + 15 * rng.uniform())));
    const D = rng.normalArray(nh, 0.1, 1);
    const state0 = rng.normalArray(nh * P * N, 0.1);
    for (const [T, mode] of [[40, "scan"], [3, "step"]] as [number, "scan" | "step"][]) {
      const x = rng.normalArray(T * nh * P, 1), B = rng.normalArray(T * G * N, 1), C = rng.normalArray(T * G * N, 1);
      const dt = rng.uniformArray(T * nh, 0.001, 0.1);
      const dims = Float64Array.from([T, nh, P, G, N, 16]);
      const run = (m: "scan" | "step" | "reference") => {
        const st = state0.slice(), y = new Float32Array(T * nh * P);
        nat.opSsm(x, B, C, dt, A, D, dims, st, y, m, be);
        return { y, st };
      };
      const f = run(mode), r = run("reference");
      expect(normErr(f.y, r.y)).toBeLessThan(1e-5);
      expect(normErr(f.st, r.st)).toBeLessThan(1e-5);
    }
  });

  eachBackend("attention: Nano-9B GQA 40/8 heads of 128, prefill of 9 over a cache of 20, and a decode step over 100", (be) => {
    for (const [T, past] of [[9, 20], [1, 100]]) {
      const q = rng.normalArray(T * 40 * 128, 1), k = rng.normalArray((past + T) * 8 * 128, 1), v = rng.normalArray((past + T) * 8 * 128, 1);
      const dims = Float64Array.from([T, past, 40, 8, 128]);
      const run = (ref: OpBackend) => { const o = new Float32Array(T * 40 * 128); nat.opAttention(q, k, v, dims, 1 / Math.sqrt(128), o, ref); return o; };
      expect(normErr(run(be), run(true))).toBeLessThan(1e-5);
    }
  });

  eachBackend("relu2: Nano-9B MLP activation, 3 x 15680", (be) => {
    const x = rng.normalArray(3 * 15680, 1);
    const f = x.slice(), r = x.slice();
    nat.opRelu2(f, be);
    nat.opRelu2(r, true);
    expect(normErr(f, r)).toBe(0);
    expect(r.every((v, i) => v === (x[i] > 0 ? x[i] * x[i] : 0) || Math.abs(v - x[i] * x[i]) < 1e-6 * v)).toBe(true);
  });
});

describe("a BF16 KV cache: each backend vs reference", () => {
  const bf16 = (x: Float32Array) => {
    const u = new Uint32Array(x.buffer, x.byteOffset, x.length), out = new Uint16Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = (u[i] + 0x7fff + ((u[i] >>> 16) & 1)) >>> 16;  // nearest even (no NaN here)
    return out;
  };
  const widen = (b: Uint16Array) => new Float32Array(Uint32Array.from(b, (h) => (h << 16) >>> 0).buffer);

  eachBackend("attention over BF16 K/V reads the BF16 values: Nano-9B decode over 1500 positions and prefill of 9 over 20", (be) => {
    for (const [T, past] of [[1, 1500], [9, 20]]) {
      const q = rng.normalArray(T * 40 * 128, 1), k = bf16(rng.normalArray((past + T) * 8 * 128, 1)), v = bf16(rng.normalArray((past + T) * 8 * 128, 1));
      const dims = Float64Array.from([T, past, 40, 8, 128]);
      const out = () => new Float32Array(T * 40 * 128);
      const got = out(), ref16 = out(), ref32 = out();
      nat.opAttention(q, k, v, dims, 1 / Math.sqrt(128), got, be, dtypeCode("BF16"));
      nat.opAttention(q, k, v, dims, 1 / Math.sqrt(128), ref16, true, dtypeCode("BF16"));
      nat.opAttention(q, widen(k), widen(v), dims, 1 / Math.sqrt(128), ref32, true);
      expect(normErr(ref16, ref32)).toBe(0);  // the same values, the same fp64 sums
      expect(normErr(got, ref32)).toBeLessThan(1e-5);
    }
  });

  eachBackend("to_storage BF16: the cache write rounds as round_to does, bit for bit", (be) => {
    const x = rng.normalArray(3 * 1024 + 5, 50);
    x[3] = Number.NaN; x[4] = -Infinity; x[6] = 3.4e38;
    const got = new Uint16Array(x.length), ref = new Uint16Array(x.length);
    nat.opToStorage(x, dtypeCode("BF16"), got, be);
    nat.opToStorage(x, dtypeCode("BF16"), ref, true);
    expect([...got]).toEqual([...ref]);
    const rounded = x.slice();
    nat.opRoundTo(rounded, dtypeCode("BF16"), true);
    expect([...widen(ref)].every((v, i) => Object.is(v, rounded[i]) || (Number.isNaN(v) && Number.isNaN(rounded[i])))).toBe(true);
    expect(() => nat.opToStorage(x, dtypeCode("F16"), got, be)).toThrow(/storage must be F32 or BF16/);
  });
});

describe("sampling on the backend: each backend vs sampling.ts's Sampler", () => {
  /** The Sampler's choice with its draw fixed at u (what the op is given). */
  const tsChoice = (l: Float32Array, o: SamplingOptions, context: number[], u: number) => {
    const s = new Sampler(o);
    s.uniform = () => u;
    return s.next(l, context);
  };
  const settings = (o: SamplingOptions, u: number) =>
    Float64Array.from([o.temperature ?? 0, o.topK ?? 0, o.topP ?? 1, o.minP ?? 0, o.repetitionPenalty ?? 1, u]);
  // Rows with many exact ties (logits on a coarse grid) and a smooth one at the 9B's vocabulary.
  const rows = [
    Float32Array.from(rng.normalArray(1000, 2), (v) => Math.round(v * 2) / 2),
    Float32Array.from(rng.normalArray(3000, 1), (v) => Math.round(v * 8) / 8),
    rng.normalArray(131072, 3),
  ];
  const cases: SamplingOptions[] = [
    { temperature: 0 }, { temperature: 0, repetitionPenalty: 1.3 }, { temperature: 1 }, { temperature: 0.7 },
    { temperature: 0.8, topK: 40 }, { temperature: 1, topK: 1 }, { temperature: 1.2, topP: 0.9 }, { temperature: 0.6, topP: 0.5 },
    { temperature: 1, topK: 50, topP: 0.95, minP: 0.05 }, { temperature: 0.9, minP: 0.1, repetitionPenalty: 1.2 },
  ];
  eachBackend("the same token as the Sampler for the same u: ties, top-k / top-p / min-p, penalty, a 131072 vocabulary", (be) => {
    const draws = new Rng(7);
    let compared = 0, differentTokens = new Set<number>();
    for (const row of rows) {
      const context = [1, 5, 5, 17, row.length - 1];
      for (const o of cases) {
        for (let j = 0; j < (row.length > 10000 ? 2 : 6); j++) {
          const u = draws.uniform();
          const want = tsChoice(row, o, context, u);
          const ctx = Int32Array.from(context);
          expect(nat.opSample(row, settings(o, u), ctx, true)).toBe(want);  // the plain reference
          expect(nat.opSample(row, settings(o, u), ctx, be)).toBe(want);
          differentTokens.add(want);
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(100);
    expect(differentTokens.size).toBeGreaterThan(20);  // the cases really sample
  });

  eachBackend("ties at the top-p bar are kept lowest id first; all -inf is an error", (be) => {
    // probabilities 0.4, 0.2, 0.2, 0.2: p = 0.7 keeps the 0.4 and the first two 0.2 ties (ids 1 and 3 of 1, 3, 4)
    const l = Float32Array.from([Math.log(0.4), Math.log(0.2), -Infinity, Math.log(0.2), Math.log(0.2)]);
    const o = { temperature: 1, topP: 0.7 };
    for (const u of [0.1, 0.5, 0.62, 0.75, 0.99]) expect(nat.opSample(l, settings(o, u), null, be)).toBe(tsChoice(l, o, [], u));
    expect(nat.opSample(l, settings(o, 0.99), null, be)).toBe(3);
    expect(() => nat.opSample(new Float32Array(4).fill(-Infinity), settings({ temperature: 1 }, 0.5), null, be)).toThrow(/every logit is -Infinity/);
    expect(() => nat.opSample(l, settings({ temperature: 1 }, 1), null, be)).toThrow(/u must be in \[0, 1\)/);
  });
});

describe("residual add fused with the next RMSNorm: each backend vs add then rmsnorm", () => {
  eachBackend("add_rmsnorm: Nano-9B residual stream, 3 x 4480, and an awkward 5 x 100", (be) => {
    for (const [T, n] of [[3, 4480], [5, 100]]) {
      const h = rng.normalArray(T * n, 1), y = rng.normalArray(T * n, 1), w = rng.uniformArray(n, 0.5, 1.5);
      const hf = h.slice(), xf = new Float32Array(T * n);
      nat.opAddRmsnorm(hf, y, T, n, w, 1e-5, xf, be);
      // the unfused ops on the reference backend
      const hr = h.slice(), xr = new Float32Array(T * n);
      nat.opAdd(hr, y, true);
      nat.opRmsnorm(hr, T, n, w, 1e-5, xr, true);
      expect(normErr(hf, hr)).toBe(0);  // the sum is exact in any order
      expect(normErr(xf, xr)).toBeLessThan(1e-5);
      const hu = h.slice(), xu = new Float32Array(T * n);  // and the same values as the backend's own unfused ops
      nat.opAdd(hu, y, be);
      nat.opRmsnorm(hu, T, n, w, 1e-5, xu, be);
      expect(normErr(xf, xu)).toBe(0);
    }
  });
});

describe("residual add: each backend vs reference", () => {
  eachBackend("add: Nano-9B residual stream, 3 x 4480", (be) => {
    const h = rng.normalArray(3 * 4480, 1), y = rng.normalArray(3 * 4480, 1);
    const f = h.slice(), r = h.slice();
    nat.opAdd(f, y, be);
    nat.opAdd(r, y, true);
    expect(normErr(f, r)).toBe(0);
    expect(r[5]).toBe(Math.fround(h[5] + y[5]));
  });
});

describe("backend selection for ops", () => {
  it.skipIf(available.includes("cuda"))("asking for cuda without a device names the reason", () => {
    expect(() => nat.opRelu2(new Float32Array(4), "cuda")).toThrow(/no CUDA device \(/);
  });
});

describe("sampling helpers", () => {
  const logits = rng.normalArray(131072, 3);
  it("argmax and topK agree with a sort", () => {
    const order = [...logits.keys()].sort((a, b) => logits[b] - logits[a] || a - b);
    expect(nat.argmax(logits)).toBe(order[0]);
    const vals = new Float32Array(5), idx = new Int32Array(5);
    nat.topK(logits, 5, vals, idx);
    expect([...idx]).toEqual(order.slice(0, 5));
    expect([...vals]).toEqual(order.slice(0, 5).map((i) => logits[i]));
  });
  it("softmax sums to 1 and matches exp(x/T - logZ)", () => {
    const p = logits.slice();
    const logZ = nat.softmax(p, 0.7);
    let s = 0;
    for (const v of p) s += v;
    expect(Math.abs(s - 1)).toBeLessThan(1e-5);
    expect(Math.abs(p[123] - Math.exp(logits[123] / 0.7 - logZ))).toBeLessThan(1e-7);
  });
});

describe("activation fake quantization: each backend vs reference", () => {
  // Nano-9B down_proj input (15680 per token) with values across FP8's range, zeros, a NaN and an infinity.
  const T = 3, n = 15680;
  const x = rng.normalArray(T * n, 20);
  x[3] = 0; x[11] = Number.NaN; x[n + 5] = Number.POSITIVE_INFINITY;
  eachBackend("amax: the largest finite |x| (NaN and infinity skipped)", (be) => {
    let want = 0;
    for (const v of x) if (Number.isFinite(v)) want = Math.max(want, Math.abs(v));
    expect(nat.opAmax(x, be)).toBe(want);
    expect(nat.opAmax(x, true)).toBe(want);
  });
  for (const [format, fmax] of [[0, 448], [1, 57344]] as const) {
    for (const dynamic of [false, true]) {
      eachBackend(`fake_quant_fp8 ${format ? "e5m2" : "e4m3"} ${dynamic ? "dynamic per token" : "static"}, ${T} x ${n}`, (be) => {
        const run = (b: OpBackend) => { const y = new Float32Array(T * n); nat.opFakeQuantFp8(x, T, n, format, dynamic, 0.04, y, b); return y; };
        const fast = run(be), ref = run(true);
        expect(fast.every((v, i) => Object.is(v, ref[i]) || (Number.isNaN(v) && Number.isNaN(ref[i])))).toBe(true);
        // The round trip lands on the FP8 grid of the row's scale, and saturates at fmax.
        const s0 = dynamic ? x.subarray(0, n).reduce((a, v) => Number.isFinite(v) ? Math.max(a, Math.abs(v)) : a, 0) / fmax : 0.04;
        const code = new Uint8Array(1), back = new Float32Array(1);
        nat.fp8EncodeReference(Float32Array.from([Math.fround(x[0] / Math.fround(s0))]), format, true, code);
        nat.fp8DecodeReference(code, format, back);
        expect(ref[0]).toBe(Math.fround(back[0] * Math.fround(s0)));
        expect(Number.isNaN(ref[11])).toBe(true);
        // the row with an infinity: dynamic falls back to scale 1, the infinity saturates
        expect(ref[n + 5]).toBe(dynamic ? fmax : Math.fround(fmax * 0.04));
      });
    }
  }
  it("a static scale must be positive", () => {
    expect(() => nat.opFakeQuantFp8(x, T, n, 0, false, 0, new Float32Array(T * n), false)).toThrow(/static scale must be positive/);
  });
});

describe("MoE routing and row movement: each backend vs reference", () => {
  // 5 tokens, 16 experts in 4 groups, top 4 inside the best 2 groups, with a correction bias.
  const T = 5, E = 16, k = 4;
  const logits = rng.normalArray(T * E, 2), corr = rng.normalArray(E, 0.1);
  const settings = Float64Array.from([E, k, 4, 2, 1, 2.5]);
  eachBackend("moe_route: the k best experts of the 2 best groups, weights renormalised and scaled", (be) => {
    const run = (b: OpBackend) => { const e = new Int32Array(T * k), w = new Float32Array(T * k); nat.opMoeRoute(logits, T, settings, corr, e, w, b); return { e, w }; };
    const fast = run(be), ref = run(true);
    expect([...fast.e]).toEqual([...ref.e]);
    expect([...fast.w]).toEqual([...ref.w]);
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    for (let t = 0; t < T; t++) {
      const choice = Array.from({ length: E }, (_, e) => sig(logits[t * E + e]) + corr[e]);
      const groupScore = [0, 1, 2, 3].map((g) => choice.slice(g * 4, g * 4 + 4).sort((a, b) => b - a).slice(0, 2).reduce((a, b) => a + b));
      const best = [0, 1, 2, 3].sort((a, b) => groupScore[b] - groupScore[a]).slice(0, 2);
      const allowed = Array.from({ length: E }, (_, e) => e).filter((e) => best.includes(Math.floor(e / 4)));
      const want = allowed.sort((a, b) => choice[b] - choice[a]).slice(0, k);
      expect([...ref.e.subarray(t * k, t * k + k)]).toEqual(want);
      const total = want.reduce((a, e) => a + sig(logits[t * E + e]), 0);
      for (let j = 0; j < k; j++) expect(ref.w[t * k + j]).toBeCloseTo(2.5 * sig(logits[t * E + want[j]]) / total, 5);
    }
  });
  const cols = 4480, src = rng.normalArray(7 * cols, 1);
  const rows = Int32Array.from([5, 0, 3, 6]), weights = Float32Array.from([0.5, -1.25, 2, 0.125]);
  eachBackend("gather_rows: 4 of 7 Nano-9B residual rows", (be) => {
    const run = (b: OpBackend) => { const d = new Float32Array(4 * cols); nat.opGatherRows(src, cols, rows, d, b); return d; };
    const fast = run(be), ref = run(true);
    expect(normErr(fast, ref)).toBe(0);
    expect([...ref.subarray(2 * cols, 3 * cols)]).toEqual([...src.subarray(3 * cols, 4 * cols)]);
  });
  eachBackend("scatter_add_rows: weighted rows added into 7 Nano-9B residual rows", (be) => {
    const part = src.subarray(0, 4 * cols);
    const run = (b: OpBackend) => { const d = src.slice(); nat.opScatterAddRows(part, cols, rows, weights, d, b); return d; };
    const fast = run(be), ref = run(true);
    expect(normErr(fast, ref)).toBeLessThan(1e-6);
    expect(ref[5 * cols + 9]).toBeCloseTo(src[5 * cols + 9] + 0.5 * part[9], 5);
    expect([...ref.subarray(cols, 2 * cols)]).toEqual([...src.subarray(cols, 2 * cols)]);  // row 1 not targeted
  });
  it("rejects rows outside the source and repeated target rows", () => {
    expect(() => nat.opGatherRows(src, cols, Int32Array.from([7]), new Float32Array(cols), false)).toThrow(/rows\[0\] = 7 outside \[0, 7\)/);
    expect(() => nat.opScatterAddRows(src.subarray(0, 2 * cols), cols, Int32Array.from([1, 1]), Float32Array.from([1, 1]), src.slice(), false))
      .toThrow(/row 1 appears twice/);
  });
});

describe("state storage what-if: round_to each backend vs reference", () => {
  const x = rng.normalArray(8 * 4480, 3);
  x[2] = 1e-9; x[5] = 70000; x[9] = Number.NaN;
  for (const dtype of ["BF16", "F16"] as const) {
    eachBackend(`round_to ${dtype}: an SSM state's values through 16-bit storage`, (be) => {
      const f = x.slice(), r = x.slice();
      nat.opRoundTo(f, dtypeCode(dtype), be);
      nat.opRoundTo(r, dtypeCode(dtype), true);
      expect(f.every((v, i) => Object.is(v, r[i]) || (Number.isNaN(v) && Number.isNaN(r[i])))).toBe(true);
      // exact against the bit-level definition: bf16 keeps the top 16 bits after round-to-nearest-even
      const bits = new Uint32Array(Float32Array.from([x[0]]).buffer)[0];
      if (dtype === "BF16") {
        const rounded = (bits + 0x7fff + ((bits >>> 16) & 1)) & 0xffff0000;
        expect(r[0]).toBe(new Float32Array(Uint32Array.from([rounded >>> 0]).buffer)[0]);
      } else {
        expect(r[5]).toBe(Number.POSITIVE_INFINITY);  // above f16's max
      }
      expect(Number.isNaN(r[9])).toBe(true);
    });
  }
  it("refuses a storage dtype that is not 16-bit", () => {
    expect(() => nat.opRoundTo(new Float32Array(4), dtypeCode("F8_E4M3"), false)).toThrow(/storage must be BF16 or F16/);
  });
});
