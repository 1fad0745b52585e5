// The lens: every hook point of the native forward equals an independent recomputation in
// plain TypeScript from the weights and the neighbouring hooks, on the golden checkpoints;
// effective attention and the per-token SSM state reproduce the scan output; decode-step
// captures equal the full pass; patch hooks rewrite activations and vanish after the call.
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { NemotronH } from "../src/index";
import { native } from "../src/backend/native";
import { BLOCK_KIND, HOOK_POINT, ROLE, modelHooks } from "../src/model/arch";
import { DTYPES } from "../src/tensor/dtype";
import { fixture } from "./helpers";

const GOLDEN = fixture("golden");
const ids = (dir: string): number[] => JSON.parse(fs.readFileSync(path.join(GOLDEN, dir, "golden.json"), "utf8")).ids;

function rel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0, m = 0;
  for (let i = 0; i < a.length; i++) { d = Math.max(d, Math.abs(a[i] - b[i])); m = Math.max(m, Math.abs(b[i])); }
  return d / (m || 1);
}
/** y [T, out] = x [T, in] · Wᵀ (+ b), in double. */
function linear(x: Float32Array, T: number, W: Float32Array, out: number, b?: Float32Array): Float64Array {
  const inn = x.length / T, y = new Float64Array(T * out);
  for (let t = 0; t < T; t++) for (let o = 0; o < out; o++) {
    let s = b ? b[o] : 0;
    for (let i = 0; i < inn; i++) s += x[t * inn + i] * W[o * inn + i];
    y[t * out + o] = s;
  }
  return y;
}
function rmsnorm(x: ArrayLike<number>, T: number, w: Float32Array, eps: number, groups = 1): Float64Array {
  const n = x.length / T, g = n / groups, y = new Float64Array(x.length);
  for (let t = 0; t < T; t++) for (let k = 0; k < groups; k++) {
    let ss = 0;
    for (let i = 0; i < g; i++) ss += x[t * n + k * g + i] ** 2;
    const r = 1 / Math.sqrt(ss / g + eps);
    for (let i = 0; i < g; i++) y[t * n + k * g + i] = x[t * n + k * g + i] * r * w[k * g + i];
  }
  return y;
}
const silu = (v: number) => v / (1 + Math.exp(-v));
const softplus = (v: number) => (v > 20 ? v : Math.log1p(Math.exp(v)));
/** Columns [c0, c0 + n) of a [T, ld] matrix. */
function cols(a: ArrayLike<number>, T: number, ld: number, c0: number, n: number): Float64Array {
  const o = new Float64Array(T * n);
  for (let t = 0; t < T; t++) for (let i = 0; i < n; i++) o[t * n + i] = a[t * ld + c0 + i];
  return o;
}

describe("the architecture table and the native enums agree", () => {
  it("roles, block kinds, hook points and dtypes have the same codes on both sides", () => {
    const e = native().modelEnums();
    expect(e.role).toEqual(ROLE);
    expect(e.kind).toEqual(BLOCK_KIND);
    expect(e.hookPoint).toEqual(HOOK_POINT);
    expect(e.dtype).toEqual(Object.fromEntries(DTYPES.map((d, i) => [d, i])));
  });
  it("the read-only hooks are the same on both sides", () => {
    const model = NemotronH.load(path.join(GOLDEN, "f32_g2_chunk8"));
    const readOnly = new Set(modelHooks(model.config).filter((h) => h.entry.readOnly).map((h) => h.entry.point));
    expect([...readOnly].sort()).toEqual([...native().modelEnums().readOnlyHooks].sort());
  });
});

for (const dir of ["f32_g2_chunk8", "bf16_g4_chunk16", "bf16_g1_mqa_f32ssm"]) {
  describe(`every hook recomputed from weights and neighbours (${dir})`, () => {
    const model = NemotronH.load(path.join(GOLDEN, dir));
    const c = model.config;
    const toks = ids(dir).slice(0, 24);
    const T = toks.length;
    const cache = model.runWithCache(toks, { names: ["*", "backbone.layers.*.mixer.ssm_state", "backbone.layers.*.mixer.effective_attention"] });
    const w = (n: string) => model.weight(n).values();
    const has = (n: string) => { try { model.weight(n); return true; } catch { return false; } };
    const get = (n: string) => cache.get(n).values();
    const tol = 2e-5;

    it("records every hook with its table shape, the opt-in ones only when named", () => {
      const names = cache.names();
      for (const h of model.hookPoints()) expect(names).toContain(h.name);
      expect(names).toContain("logits");
      for (const h of model.hookPoints()) expect(cache.get(h.name).shape).toEqual(h.entry.shape(c, { ...sizes(model) }, T));
      const plain = model.runWithCache(toks, { names: ["*"] });
      expect(plain.names().some((n) => n.endsWith("ssm_state") || n.endsWith("effective_attention"))).toBe(false);
      expect(rel(plain.logits, model.logits(toks))).toBe(0);
    });

    it("block-level hooks: norm, residual, norm_f, logits", () => {
      let prev = get("backbone.embeddings");
      expect(rel(prev, w("backbone.embeddings.weight").subarray(0, 0).length ? prev : prev)).toBe(0);
      const E = w("backbone.embeddings.weight");
      expect(rel(prev, toks.flatMap((id) => [...E.subarray(id * c.hidden_size, (id + 1) * c.hidden_size)]))).toBe(0);
      for (let i = 0; i < c.num_hidden_layers; i++) {
        const p = `backbone.layers.${i}`;
        expect(rel(get(`${p}.norm`), rmsnorm(prev, T, w(`${p}.norm.weight`), c.layer_norm_epsilon))).toBeLessThan(tol);
        const mix = get(`${p}.mixer`);
        expect(rel(get(p), prev.map((v, k) => v + mix[k]))).toBeLessThan(1e-6);
        prev = get(p);
      }
      const nf = get("backbone.norm_f");
      expect(rel(nf, rmsnorm(prev, T, w("backbone.norm_f.weight"), c.layer_norm_epsilon))).toBeLessThan(tol);
      const head = has("lm_head.weight") ? w("lm_head.weight") : w("backbone.embeddings.weight");
      expect(rel(get("logits"), linear(nf, T, head, c.vocab_size))).toBeLessThan(tol);
    });

    it("Mamba-2 mixers: in_proj, conv1d, x/B/C, dt, ssm_state, y, norm, output", () => {
      const s = sizes(model);
      const nh = c.mamba_num_heads, P = c.mamba_head_dim, G = c.n_groups, N = c.ssm_state_size, K = c.conv_kernel;
      for (const l of model.checkpoint.plan.filter((x) => x.kind === "mamba")) {
        const p = `backbone.layers.${l.index}.mixer`;
        const bias = (n: string) => (has(`${p}.${n}`) ? w(`${p}.${n}`) : undefined);
        const inProj = get(`${p}.in_proj`);
        expect(rel(inProj, linear(get(`backbone.layers.${l.index}.norm`), T, w(`${p}.in_proj.weight`), s.inProjOut, bias("in_proj.bias")))).toBeLessThan(tol);
        const xbcRaw = cols(inProj, T, s.inProjOut, s.dInner, s.convDim), cw = w(`${p}.conv1d.weight`), cb = bias("conv1d.bias");
        const conv = new Float64Array(T * s.convDim);
        for (let t = 0; t < T; t++) for (let ch = 0; ch < s.convDim; ch++) {
          let a = cb ? cb[ch] : 0;
          for (let k = 0; k < K; k++) { const src = t - K + 1 + k; if (src >= 0) a += cw[ch * K + k] * xbcRaw[src * s.convDim + ch]; }
          conv[t * s.convDim + ch] = silu(a);
        }
        const conv1d = get(`${p}.conv1d`);
        expect(rel(conv1d, conv)).toBeLessThan(tol);
        const x = get(`${p}.x`), B = get(`${p}.B`), C = get(`${p}.C`), dt = get(`${p}.dt`);
        expect(rel(x, cols(conv1d, T, s.convDim, 0, s.dInner))).toBe(0);
        expect(rel(B, cols(conv1d, T, s.convDim, s.dInner, G * N))).toBe(0);
        expect(rel(C, cols(conv1d, T, s.convDim, s.dInner + G * N, G * N))).toBe(0);
        const dtBias = w(`${p}.dt_bias`), [lo, hi] = c.time_step_limit;
        const dtRef = cols(inProj, T, s.inProjOut, s.dInner + s.convDim, nh).map((v, k) => Math.min(hi, Math.max(lo, softplus(v + dtBias[k % nh]))));
        expect(rel(dt, dtRef)).toBeLessThan(tol);
        // The recurrence, token by token, from the recorded x, B, C, dt.
        const A = w(`${p}.A_log`).map((a) => -Math.exp(a)), D = w(`${p}.D`);
        const st = new Float64Array(nh * P * N), y = new Float64Array(T * s.dInner), states = new Float64Array(T * nh * P * N);
        for (let t = 0; t < T; t++) for (let h = 0; h < nh; h++) {
          const g = Math.floor(h / (nh / G)), d = dt[t * nh + h], decay = Math.exp(d * A[h]);
          for (let q = 0; q < P; q++) {
            const xv = x[t * s.dInner + h * P + q];
            let acc = 0;
            for (let n = 0; n < N; n++) {
              const k = (h * P + q) * N + n;
              st[k] = decay * st[k] + d * xv * B[t * G * N + g * N + n];
              acc += st[k] * C[t * G * N + g * N + n];
            }
            y[t * s.dInner + h * P + q] = acc + D[h] * xv;
          }
          states.set(st.subarray(h * P * N, (h + 1) * P * N), t * nh * P * N + h * P * N);
        }
        const yGot = get(`${p}.y`);
        expect(rel(yGot, y)).toBeLessThan(1e-4);
        expect(rel(get(`${p}.ssm_state`), states)).toBeLessThan(1e-4);
        const z = cols(inProj, T, s.inProjOut, 0, s.dInner);
        const gated = rmsnorm(yGot.map((v, k) => v * silu(z[k])), T, w(`${p}.norm.weight`), c.layer_norm_epsilon, G);
        const norm = get(`${p}.norm`);
        expect(rel(norm, gated)).toBeLessThan(tol);
        expect(rel(get(p), linear(norm, T, w(`${p}.out_proj.weight`), c.hidden_size, bias("out_proj.bias")))).toBeLessThan(tol);
      }
    });

    it("effective attention reproduces y; the per-token SSM state contracted with C plus D·x does too", () => {
      const nh = c.mamba_num_heads, P = c.mamba_head_dim, G = c.n_groups, N = c.ssm_state_size, di = nh * P;
      for (const l of model.checkpoint.plan.filter((x) => x.kind === "mamba")) {
        const p = `backbone.layers.${l.index}.mixer`;
        const M = get(`${p}.effective_attention`), x = get(`${p}.x`), y = get(`${p}.y`), C = get(`${p}.C`), S = get(`${p}.ssm_state`);
        const D = w(`${p}.D`);
        const fromM = new Float64Array(T * di), fromS = new Float64Array(T * di);
        for (let h = 0; h < nh; h++) {
          const g = Math.floor(h / (nh / G));
          for (let t = 0; t < T; t++) {
            for (let s = t + 1; s < T; s++) expect(M[(h * T + t) * T + s]).toBe(0);
            for (let q = 0; q < P; q++) {
              let a = D[h] * x[t * di + h * P + q], b = a;
              for (let s = 0; s <= t; s++) a += M[(h * T + t) * T + s] * x[s * di + h * P + q];
              for (let n = 0; n < N; n++) b += S[((t * nh + h) * P + q) * N + n] * C[t * G * N + g * N + n];
              fromM[t * di + h * P + q] = a;
              fromS[t * di + h * P + q] = b;
            }
          }
        }
        expect(rel(fromM, y)).toBeLessThan(1e-4);
        expect(rel(fromS, y)).toBeLessThan(1e-4);
      }
    });

    it("attention mixers: q, k, v, pattern, z, output; MLP mixers: up_proj, act, output", () => {
      const s = sizes(model);
      const nq = c.num_attention_heads, nkv = c.num_key_value_heads, hd = c.head_dim;
      for (const l of model.checkpoint.plan) {
        const p = `backbone.layers.${l.index}.mixer`, xin = get(`backbone.layers.${l.index}.norm`);
        const bias = (n: string) => (has(`${p}.${n}`) ? w(`${p}.${n}`) : undefined);
        if (l.kind === "attention") {
          const q = get(`${p}.q`), k = get(`${p}.k`), v = get(`${p}.v`);
          expect(rel(q, linear(xin, T, w(`${p}.q_proj.weight`), s.qDim, bias("q_proj.bias")))).toBeLessThan(tol);
          expect(rel(k, linear(xin, T, w(`${p}.k_proj.weight`), s.kvDim, bias("k_proj.bias")))).toBeLessThan(tol);
          expect(rel(v, linear(xin, T, w(`${p}.v_proj.weight`), s.kvDim, bias("v_proj.bias")))).toBeLessThan(tol);
          const pat = new Float64Array(nq * T * T), z = new Float64Array(T * s.qDim);
          for (let h = 0; h < nq; h++) {
            const kh = Math.floor(h / (nq / nkv));
            for (let t = 0; t < T; t++) {
              const sc: number[] = [];
              for (let j = 0; j <= t; j++) {
                let d = 0;
                for (let e = 0; e < hd; e++) d += q[t * s.qDim + h * hd + e] * k[j * s.kvDim + kh * hd + e];
                sc.push(d / Math.sqrt(hd));
              }
              const mx = Math.max(...sc), ex = sc.map((a) => Math.exp(a - mx)), sum = ex.reduce((a, b) => a + b, 0);
              ex.forEach((e, j) => { pat[(h * T + t) * T + j] = e / sum; });
            }
          }
          const patGot = get(`${p}.pattern`);
          expect(rel(patGot, pat)).toBeLessThan(1e-5);
          for (let h = 0; h < nq; h++) {
            const kh = Math.floor(h / (nq / nkv));
            for (let t = 0; t < T; t++) for (let e = 0; e < hd; e++) {
              let a = 0;
              for (let j = 0; j <= t; j++) a += patGot[(h * T + t) * T + j] * v[j * s.kvDim + kh * hd + e];
              z[t * s.qDim + h * hd + e] = a;
            }
          }
          const zGot = get(`${p}.z`);
          expect(rel(zGot, z)).toBeLessThan(tol);
          expect(rel(get(p), linear(zGot, T, w(`${p}.o_proj.weight`), c.hidden_size, bias("o_proj.bias")))).toBeLessThan(tol);
        } else if (l.kind === "mlp") {
          const up = get(`${p}.up_proj`), act = get(`${p}.act`);
          expect(rel(up, linear(xin, T, w(`${p}.up_proj.weight`), c.intermediate_size, bias("up_proj.bias")))).toBeLessThan(tol);
          expect(rel(act, up.map((u) => Math.max(0, u) ** 2))).toBeLessThan(1e-6);
          expect(rel(get(p), linear(act, T, w(`${p}.down_proj.weight`), c.hidden_size, bias("down_proj.bias")))).toBeLessThan(tol);
        }
      }
    });
  });
}

function sizes(model: NemotronH) {
  const c = model.config, dInner = c.mamba_num_heads * c.mamba_head_dim, convDim = dInner + 2 * c.n_groups * c.ssm_state_size;
  return { dInner, convDim, inProjOut: dInner + convDim + c.mamba_num_heads, headsPerGroup: c.mamba_num_heads / c.n_groups,
    normGroupSize: dInner / c.n_groups, qDim: c.num_attention_heads * c.head_dim, kvDim: c.num_key_value_heads * c.head_dim,
    gqaRep: c.num_attention_heads / c.num_key_value_heads };
}

describe("decode steps, patches and the cache API", () => {
  const dir = path.join(GOLDEN, "f32_g2_chunk8");
  const model = NemotronH.load(dir);
  const toks = ids("f32_g2_chunk8").slice(0, 16);
  const T = toks.length;

  it("captures of decode steps equal the full pass at the same positions", () => {
    const names = ["backbone.layers.*.mixer.dt", "backbone.layers.*.mixer.y", "backbone.layers.*.mixer.k", "backbone.layers.*.mixer.z",
      "backbone.layers.*.mixer.act", "backbone.layers.*", "backbone.layers.*.mixer.ssm_state"];
    const full = model.runWithCache(toks, { names });
    const state = model.newState();
    model.runWithCache(toks.slice(0, 10), { names, state });
    for (let t = 10; t < T; t++) {
      const step = model.runWithCache([toks[t]], { names, state });
      for (const n of step.names()) {
        if (n === "logits") continue;
        expect(rel(step.get(n).values(), full.get(n).row(t))).toBeLessThan(1e-4);
      }
    }
  });

  it("patching a hook with its own value leaves the logits bit-identical; zero-ablating a mixer changes them", () => {
    const base = model.logits(toks);
    for (const n of ["backbone.layers.0.mixer.x", "backbone.layers.2.mixer.dt", "backbone.layers.3.mixer.v", "backbone.layers.1.mixer.act", "backbone.layers.*"]) {
      const same = model.runWithHooks(toks, { [n]: (a) => a.values().slice() }, { names: [] });
      expect(rel(same.logits, base)).toBe(0);
    }
    const ablated = model.runWithHooks(toks, { "backbone.layers.2.mixer": (a) => new Float32Array(a.numel) }, { names: ["backbone.layers.2.mixer"] });
    expect(rel(ablated.logits, base)).toBeGreaterThan(1e-3);
    expect(ablated.get("backbone.layers.2.mixer").values().every((v) => v === 0)).toBe(true);
    // editing in place (returning nothing) patches too
    const edited = model.runWithHooks(toks, { "backbone.layers.2.mixer": (_a, ctx) => { ctx.data.fill(0); } }, { names: [] });
    expect(rel(edited.logits, ablated.logits)).toBe(0);
  });

  it("a throwing hook leaves no hook behind; a wrong shape is named; read-only hooks cannot be patched", () => {
    const base = model.logits(toks);
    expect(() => model.runWithHooks(toks, { "backbone.layers.1.mixer.up_proj": () => { throw new Error("boom in a hook"); } })).toThrow(/boom in a hook/);
    expect(rel(model.logits(toks), base)).toBe(0);
    expect(rel(model.runWithCache(toks, { names: ["backbone.layers.1.mixer.up_proj"] }).logits, base)).toBe(0);
    expect(() => model.runWithHooks(toks, { "backbone.layers.1.mixer.act": () => new Float32Array(3) }))
      .toThrow(/hook 'backbone\.layers\.1\.mixer\.act' returned 3 values; expected \[16, \d+\]/);
    expect(() => model.runWithHooks(toks, { "backbone.layers.3.mixer.pattern": (a) => a })).toThrow(/'backbone\.layers\.3\.mixer\.pattern' can be recorded, not patched/);
    expect(() => model.runWithHooks(toks, { "backbone.layers.1.mixer.dt": (a) => a })).toThrow(/unknown hook 'backbone\.layers\.1\.mixer\.dt'/);
    expect(rel(model.logits(toks), base)).toBe(0);
  });

  it("the cache: shapes, rows, stats, stack, a missing name says which call records it, a memory bound", () => {
    const cache = model.runWithCache(toks, { names: ["backbone.layers.*.mixer.dt", "backbone.layers.3.mixer.pattern"] });
    const dt = cache.get("backbone.layers.0.mixer.dt");
    expect(dt.shape).toEqual([T, model.config.mamba_num_heads]);
    expect(dt.row(3).length).toBe(model.config.mamba_num_heads);
    expect(dt.stats().min).toBeGreaterThan(0);
    const { names, tensor } = cache.stack("backbone.layers.*.mixer.dt");
    expect(names).toEqual(["backbone.layers.0.mixer.dt", "backbone.layers.2.mixer.dt", "backbone.layers.5.mixer.dt"]);
    expect(tensor.shape).toEqual([3, T, model.config.mamba_num_heads]);
    expect(cache.get("backbone.layers.3.mixer.pattern").shape).toEqual([model.config.num_attention_heads, T, T]);
    expect(() => cache.get("backbone.layers.0.mixer.y")).toThrow(/not recorded; model\.runWithCache\(ids, \{ names: \["backbone\.layers\.0\.mixer\.y"\] \}\) records it/);
    expect(() => cache.get("backbone.layers.0.mixer.q")).toThrow(/not a hook of this model/);
    expect(() => model.runWithCache(toks, { names: ["*"], maxBytes: 1000 })).toThrow(/needs [\d.]+ MiB, over the bound/);
    const legacy = model.runWithCache(toks, ["backbone.layers.0"]);
    expect(legacy.cache.get("backbone.layers.0")).toBeInstanceOf(Float32Array);
  });
});

describe("the docs list the table's hooks", () => {
  it("README's hook table names every hook point suffix of the architecture table", () => {
    const readme = fs.readFileSync(path.join(__dirname, "..", "README.md"), "utf8");
    const model = NemotronH.load(path.join(GOLDEN, "f32_g2_chunk8"));
    for (const h of model.hookPoints()) {
      const suffix = h.entry.suffix || h.name;
      expect(readme.includes("`" + (suffix.startsWith(".") ? suffix : h.name.replace(/\d+/, "{i}")) + "`") || readme.includes(suffix + "`")).toBe(true);
    }
  });
});
