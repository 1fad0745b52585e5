// A stand-in for NemotronH (src/model/nemotron-h.ts, not merged yet) implementing the
// QuantizableModel contract over a makeTiny checkpoint's real tensor names and shapes:
// not the NemotronH math, but every linear weight feeds the logits, the state carries a
// running mean of past embeddings, FP8 replacements run dequantised, and the activation
// hooks fake-quantize linear inputs. Tests of src/quant use it until the model lands.
import { Checkpoint, Tensor, encodeFp8, decodeFp8, derivedSizes } from "../../src/index";
import type { ActivationQuant, ModelState, QuantizableModel } from "../../src/quant/model";
import type { NemotronHConfig } from "../../src/index";

class FakeState implements ModelState {
  length = 0;
  sum: Float32Array;
  constructor(h: number) { this.sum = new Float32Array(h); }
  clone(): ModelState { const s = new FakeState(this.sum.length); s.length = this.length; s.sum.set(this.sum); return s; }
  reset(): void { this.length = 0; this.sum.fill(0); }
}

export class FakeLM implements QuantizableModel {
  readonly config: NemotronHConfig;
  readonly vocabSize: number;
  private readonly originals = new Map<string, Tensor>();
  private readonly current = new Map<string, Tensor>();
  private readonly cache = new Map<string, Float32Array>();
  private readonly inputQuant = new Map<string, ActivationQuant>();
  private observing?: Map<string, number>;

  constructor(readonly ckpt: Checkpoint) {
    this.config = ckpt.config!;
    this.vocabSize = this.config.vocab_size;
    for (const n of ckpt.names()) this.originals.set(n, ckpt.tensor(n));
  }

  linearWeights(): string[] {
    return [...this.originals.keys()].filter((n) => /(proj|lm_head)\.weight$/.test(n));
  }
  weight(name: string): Tensor {
    const t = this.current.get(name) ?? this.originals.get(name);
    if (!t) throw new Error(`no weight ${name}`);
    return t;
  }
  replaceWeight(name: string, t: Tensor): void {
    const o = this.weight(name);
    if (t.shape.join() !== o.shape.join()) throw new Error(`shape mismatch for ${name}`);
    this.current.set(name, t); this.cache.delete(name);
  }
  restoreWeight(name: string): void { this.current.delete(name); this.cache.delete(name); }
  restoreAll(): void { this.current.clear(); this.cache.clear(); }

  setInputQuant(weight: string, q: ActivationQuant | undefined): void {
    if (q) this.inputQuant.set(weight, q); else this.inputQuant.delete(weight);
  }
  observeInputAmax(weights: string[]): { stop(): Map<string, number> } {
    this.observing = new Map(weights.map((w) => [w, 0]));
    return { stop: () => { const m = this.observing!; this.observing = undefined; return m; } };
  }

  newState(): ModelState { return new FakeState(this.config.hidden_size); }

  logits(ids: ArrayLike<number>): Float32Array { return this.forward(ids, this.newState()); }

  forward(ids: ArrayLike<number>, state: ModelState, o: { lastOnly?: boolean; signal?: AbortSignal } = {}): Float32Array {
    const st = state as FakeState, H = this.config.hidden_size, V = this.vocabSize;
    const emb = this.values("backbone.embeddings.weight");
    const out = new Float32Array((o.lastOnly ? 1 : ids.length) * V);
    for (let t = 0; t < ids.length; t++) {
      const e = emb.subarray(ids[t] * H, (ids[t] + 1) * H);
      const h = new Float32Array(H);
      for (let i = 0; i < H; i++) h[i] = e[i] + (st.length ? (0.5 * st.sum[i]) / st.length : 0);
      for (let i = 0; i < H; i++) st.sum[i] += e[i];
      st.length++;
      for (const l of this.ckpt.plan) this.block(l.path, l.kind, h);
      if (o.lastOnly && t < ids.length - 1) continue;
      const logits = this.linear("lm_head.weight", rms(h));
      out.set(logits, (o.lastOnly ? 0 : t) * V);
    }
    return out;
  }

  private block(p: string, kind: string, h: Float32Array): void {
    const x = rms(h);
    let y: Float32Array;
    if (kind === "mamba") {
      const z = this.linear(`${p}.mixer.in_proj.weight`, x);
      const d = derivedSizes(this.config).dInner;
      y = this.linear(`${p}.mixer.out_proj.weight`, z.subarray(0, d).map((v) => v / (1 + Math.exp(-v))));
    } else if (kind === "attention") {
      const q = this.linear(`${p}.mixer.q_proj.weight`, x), k = this.linear(`${p}.mixer.k_proj.weight`, x), v = this.linear(`${p}.mixer.v_proj.weight`, x);
      const g = q.map((qi, i) => (v[i % v.length] * 1) / (1 + Math.exp(-qi * k[i % k.length] * 8)));
      y = this.linear(`${p}.mixer.o_proj.weight`, g);
    } else {
      const u = this.linear(`${p}.mixer.up_proj.weight`, x).map((v) => (v > 0 ? v * v : 0));
      y = this.linear(`${p}.mixer.down_proj.weight`, u);
    }
    for (let i = 0; i < h.length; i++) h[i] += y[i];
  }

  private values(name: string): Float32Array {
    let v = this.cache.get(name);
    if (!v) { v = this.weight(name).values(); this.cache.set(name, v); }
    return v;
  }

  private linear(name: string, x: Float32Array): Float32Array {
    const w = this.values(name), t = this.weight(name), R = t.rows, C = t.cols;
    let a = 0;
    for (const v of x) a = Math.max(a, Math.abs(v));
    if (this.observing?.has(name)) this.observing.set(name, Math.max(this.observing.get(name)!, a));
    const aq = this.inputQuant.get(name);
    if (aq) {
      const scale = aq.mode === "static" ? aq.scale! : (a > 0 ? Math.fround(Math.fround(a) / (aq.format === "e4m3" ? 448 : 57344)) : 1);
      x = decodeFp8(encodeFp8(x, aq.format, { multiplier: 1 / scale }), aq.format, scale);
    }
    const out = new Float32Array(R);
    for (let r = 0; r < R; r++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += w[r * C + c] * x[c];
      out[r] = s;
    }
    return out;
  }
}

function rms(h: Float32Array): Float32Array {
  let s = 0;
  for (const v of h) s += v * v;
  const k = 1 / Math.sqrt(s / h.length + 1e-5);
  return h.map((v) => v * k);
}
