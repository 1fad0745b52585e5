// Precision what-if for the recurrent state: the SSM state is rounded where it is kept between
// forward calls and the KV cache as rows are written (bf16, or FP8 E4M3 with a scale per KV head
// set by the first write), checked against plain-TypeScript recomputations from the hooks; and the
// what-if table on the bundled model.
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import * as lab from "../src/index";
import { fixture } from "./helpers";

const DIR = path.join(fixture("golden"), "f32_g2_chunk8");
const toks = [3, 17, 42, 5, 99, 7, 11, 200, 13, 64];
const bf16 = (v: Float32Array) => lab.bf16ToFloat32(lab.float32ToBf16(v));

describe("state dtypes as load options", () => {
  it("f32 is the default, bit for bit; a bad or misplaced dtype is refused naming the option", () => {
    const plain = lab.NemotronH.load(DIR), f32 = lab.NemotronH.load(DIR, { ssmStateDtype: "f32", kvCacheDtype: "f32" });
    expect(f32.logits(toks)).toEqual(plain.logits(toks));
    expect(() => lab.NemotronH.load(DIR, { ssmStateDtype: "fp8_e4m3" })).toThrow(/ssmStateDtype must be "f32", "bf16", "f16"; got "fp8_e4m3"/);
    expect(() => lab.NemotronH.load(DIR, { kvCacheDtype: "int4" as never })).toThrow(/kvCacheDtype must be "f32", "bf16", "fp8_e4m3"; got "int4"/);
  });

  it("the SSM state is rounded between calls: one prefill call is unchanged, the next step starts from the bf16 state", () => {
    const plain = lab.NemotronH.load(DIR), m = lab.NemotronH.load(DIR, { ssmStateDtype: "bf16" });
    expect(m.logits(toks)).toEqual(plain.logits(toks));
    const c = m.config, nh = c.mamba_num_heads, P = c.mamba_head_dim, N = c.ssm_state_size, G = c.n_groups;
    const st = m.newState();
    const L0 = "backbone.layers.0.mixer";
    const first = m.runWithCache(toks.slice(0, 6), { names: [`${L0}.ssm_state`], state: st });
    const kept = first.get(`${L0}.ssm_state`).row(5);   // the state after token 5, as computed (fp32)
    const step = m.runWithCache([toks[6]], { names: [`${L0}.ssm_state`, `${L0}.x`, `${L0}.B`, `${L0}.dt`], state: st });
    const next = step.get(`${L0}.ssm_state`).values(), x = step.get(`${L0}.x`).values(), B = step.get(`${L0}.B`).values(), dt = step.get(`${L0}.dt`).values();
    const A = m.weight(`backbone.layers.0.mixer.A_log`).values().map((a) => -Math.exp(a));
    // S' = exp(dt·A)·S + dt·x⊗B, from the state as stored (bf16) and, for contrast, as computed.
    const recur = (S: Float32Array) => {
      const out = new Float64Array(S.length);
      for (let h = 0; h < nh; h++) for (let p = 0; p < P; p++) for (let n = 0; n < N; n++) {
        const g = Math.floor(h / (nh / G)), i = (h * P + p) * N + n;
        out[i] = Math.exp(dt[h] * A[h]) * S[i] + dt[h] * x[h * P + p] * B[g * N + n];
      }
      return out;
    };
    const err = (a: Float64Array) => Math.max(...a.map((v, i) => Math.abs(v - next[i])));
    const scale = Math.max(...next.map(Math.abs));
    expect(err(recur(bf16(kept)))).toBeLessThan(1e-5 * scale);
    expect(err(recur(kept))).toBeGreaterThan(1e-4 * scale);
  });

  for (const kv of ["bf16", "fp8_e4m3"] as const) {
    it(`the KV cache stores keys as ${kv}: the attention pattern is softmax(q · stored k) (decode step included)`, () => {
      const m = lab.NemotronH.load(DIR, { kvCacheDtype: kv });
      const c = m.config, layer = m.checkpoint.plan.find((l) => l.kind === "attention")!.index;
      const nq = c.num_attention_heads, nkv = c.num_key_value_heads, hd = c.head_dim, T = toks.length;
      const at = `backbone.layers.${layer}.mixer`;
      const cache = m.runWithCache(toks, { names: [`${at}.q`, `${at}.k`, `${at}.pattern`] });
      const q = cache.get(`${at}.q`).values(), k = cache.get(`${at}.k`).values(), pat = cache.get(`${at}.pattern`).values();
      // Stored keys: bf16, or FP8 E4M3 with one scale per KV head (amax over this first write / 448).
      const stored = new Float32Array(k.length);
      for (let h = 0; h < nkv; h++) {
        const head = new Float32Array(T * hd);
        for (let t = 0; t < T; t++) head.set(k.subarray(t * nkv * hd + h * hd, t * nkv * hd + (h + 1) * hd), t * hd);
        const s = Math.max(...head.map(Math.abs)) / 448;
        const r = kv === "bf16" ? bf16(head) : lab.decodeFp8(lab.encodeFp8(head.map((v) => v / s), "e4m3"), "e4m3", s);
        for (let t = 0; t < T; t++) stored.set(r.subarray(t * hd, (t + 1) * hd), t * nkv * hd + h * hd);
      }
      const patternFrom = (keys: Float32Array) => {
        const out = new Float64Array(nq * T * T);
        for (let h = 0; h < nq; h++) for (let t = 0; t < T; t++) {
          const kh = Math.floor(h / (nq / nkv)), s = [];
          for (let u = 0; u <= t; u++) {
            let d = 0;
            for (let i = 0; i < hd; i++) d += q[t * nq * hd + h * hd + i] * keys[u * nkv * hd + kh * hd + i];
            s.push(d / Math.sqrt(hd));
          }
          const mx = Math.max(...s), e = s.map((v) => Math.exp(v - mx)), z = e.reduce((a, b) => a + b, 0);
          e.forEach((v, u) => { out[(h * T + t) * T + u] = v / z; });
        }
        return out;
      };
      const err = (a: Float64Array) => Math.max(...a.map((v, i) => Math.abs(v - pat[i])));
      expect(err(patternFrom(stored))).toBeLessThan(1e-5);
      expect(err(patternFrom(k))).toBeGreaterThan(kv === "bf16" ? 1e-6 : 1e-4);
      // Decoding from the state uses the same cache: step logits stay close to the full pass's, and differ from fp32's.
      const st = m.newState();
      m.forward(toks.slice(0, 6), st);
      const stepped = m.forward([toks[6]], st), full = m.logits(toks.slice(0, 7)).subarray(6 * m.vocabSize);
      const fp32 = lab.NemotronH.load(DIR).logits(toks.slice(0, 7)).subarray(6 * m.vocabSize);
      expect(Math.max(...stepped.map((v, i) => Math.abs(v - full[i])))).toBeLessThan(0.05 * Math.max(...full.map(Math.abs)));
      expect(stepped).not.toEqual(fp32);
    });
  }
});

describe("the state precision table on the bundled model", () => {
  let dir: string;
  beforeAll(async () => { dir = await lab.bundledModel(); }, 120_000);

  it("fp32 is exact; reduced dtypes move KL off zero, FP8 KV more than bf16 KV", () => {
    const tok = lab.TextTokenizer.load(dir);
    const ids = tok.encode("Der Hund ist ein guter Freund, und die Katze schläft den ganzen Tag in der Sonne.");
    const rows = lab.statePrecision(dir, ids, { generate: 12 });
    const row = (ssm: string, kv: string) => rows.find((r) => r.ssm === ssm && r.kv === kv)!;
    expect(row("f32", "f32")).toMatchObject({ klMean: 0, klMax: 0, top1Agreement: 1, sameGreedy: 12 });
    for (const r of rows.filter((x) => x.ssm !== "f32" || x.kv !== "f32")) {
      expect(r.klMean, `${r.ssm}/${r.kv}`).toBeGreaterThan(0);
      expect(Number.isFinite(r.perplexity)).toBe(true);
    }
    expect(row("f32", "fp8_e4m3").klMean).toBeGreaterThan(row("f32", "bf16").klMean);
    const table = lab.statePrecisionTable(rows, 12);
    expect(table.rows.length).toBe(rows.length);
    expect(table.toString()).toContain("fp8_e4m3");
    expect(() => lab.statePrecision(dir, ids, { prefill: ids.length })).toThrow(/prefill must be an integer in \[1, \d+\]/);
  });
});
