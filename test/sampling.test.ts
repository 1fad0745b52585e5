import { describe, it, expect } from "vitest";
import { applyRepetitionPenalty, applyTemperature, topK, topP, minP, softmax, argmax, sampleIndex, Sampler } from "../src/index";

/** Logits whose softmax is exactly proportional to the given weights (up to rounding). */
const logitsOf = (...w: number[]) => Float32Array.from(w.map(Math.log));
const kept = (l: Float32Array) => [...l.keys()].filter((i) => l[i] > -Infinity);

describe("samplers against hand-computed distributions", () => {
  it("softmax", () => {
    const p = softmax(logitsOf(1, 2, 3, 4));
    [0.1, 0.2, 0.3, 0.4].forEach((q, i) => expect(p[i]).toBeCloseTo(q, 6));
    const m = softmax(Float32Array.from([0, -Infinity, 0]));
    expect([...m]).toEqual([0.5, 0, 0.5]);
    expect(() => softmax(Float32Array.from([-Infinity, -Infinity]))).toThrow(/filtered out/);
  });

  it("temperature divides the logits: T=2 gives probabilities proportional to sqrt(p)", () => {
    const p = softmax(applyTemperature(logitsOf(1, 4, 16), 2));
    [1 / 7, 2 / 7, 4 / 7].forEach((q, i) => expect(p[i]).toBeCloseTo(q, 6));
    const cold = softmax(applyTemperature(logitsOf(1, 2), 0.5));  // p^2: 1/5, 4/5
    expect(cold[1]).toBeCloseTo(0.8, 6);
  });

  it("repetition penalty divides positive and multiplies negative logits of ids in context, once each", () => {
    const out = applyRepetitionPenalty(Float32Array.from([2, -2, 1, 3]), [0, 1, 1, 99], 2);
    expect([...out]).toEqual([1, -4, 1, 3]);
    const inputUnchanged = Float32Array.from([2]);
    applyRepetitionPenalty(inputUnchanged, [0], 2);
    expect(inputUnchanged[0]).toBe(2);
  });

  it("top-k keeps the k largest, ties at the k-th value included", () => {
    expect(kept(topK(Float32Array.from([1, 5, 3, 4, 2]), 2))).toEqual([1, 3]);
    expect(kept(topK(Float32Array.from([1, 5, 3, 3, 2]), 2))).toEqual([1, 2, 3]);
    expect(kept(topK(Float32Array.from([1, 2]), 0))).toEqual([0, 1]);
    const p = softmax(topK(logitsOf(1, 2, 3, 4), 2));  // renormalised: 3/7, 4/7
    expect(p[2]).toBeCloseTo(3 / 7, 6);
    expect(p[3]).toBeCloseTo(4 / 7, 6);
  });

  it("top-p keeps the smallest most-likely set that reaches p", () => {
    const l = logitsOf(1, 2, 3, 4);  // 0.1 0.2 0.3 0.4
    expect(kept(topP(l, 0.5))).toEqual([2, 3]);    // 0.4 < 0.5, so 0.3 joins; 0.7 >= 0.5 stops
    expect(kept(topP(l, 0.75))).toEqual([1, 2, 3]);
    expect(kept(topP(l, 0.95))).toEqual([0, 1, 2, 3]);
    const p = softmax(topP(l, 0.5));
    expect(p[3]).toBeCloseTo(4 / 7, 6);
  });

  it("top-p edge cases: p=1 keeps all, a tiny p keeps the top token, filtered tokens stay filtered", () => {
    const l = logitsOf(1, 2, 3, 4);
    expect(kept(topP(l, 1))).toEqual([0, 1, 2, 3]);
    expect(kept(topP(l, 1e-9))).toEqual([3]);
    expect(kept(topP(Float32Array.from([0, -Infinity, 0, -Infinity]), 0.9))).toEqual([0, 2]);
    expect(kept(topP(Float32Array.from([0, 0, 0, 0]), 0.6))).toEqual([0, 1, 2]);  // equal masses: lowest ids first
  });

  it("top-p and top-k match a plain full-sort reference on random logits (ties included)", () => {
    const refTopP = (l: Float32Array, p: number) => {
      const pr = softmax(l);
      const order = [...l.keys()].filter((i) => l[i] > -Infinity).sort((a, b) => pr[b] - pr[a] || a - b);
      const keep = new Set<number>();
      let mass = 0;
      for (const i of order) { if (keep.size > 0 && mass >= p) break; keep.add(i); mass += pr[i]; }
      return [...keep].sort((a, b) => a - b);
    };
    const refTopK = (l: Float32Array, k: number) => { const t = [...l].sort((a, b) => b - a)[k - 1]; return kept(l).filter((i) => l[i] >= t); };
    let seed = 12345;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    for (let trial = 0; trial < 200; trial++) {
      const n = 2 + Math.floor(rnd() * 300);
      const scale = [0.1, 1, 5, 30][trial % 4];
      const l = Float32Array.from({ length: n }, () => (trial % 3 === 0 ? Math.round(rnd() * 4) : rnd() * scale));  // rounding makes ties
      if (trial % 5 === 0) l[0] = -Infinity;
      const p = [0.05, 0.3, 0.5, 0.9, 0.95, 0.999][trial % 6];
      expect(kept(topP(l, p))).toEqual(refTopP(l, p));
      const k = 1 + Math.floor(rnd() * n);
      expect(kept(topK(l, k))).toEqual(refTopK(l, k));
    }
  });

  it("min-p keeps tokens with probability >= minP * max", () => {
    const l = logitsOf(1, 2, 3, 4);
    expect(kept(minP(l, 0.6))).toEqual([2, 3]);   // threshold 0.24
    expect(kept(minP(l, 0.2))).toEqual([0, 1, 2, 3]);  // threshold 0.08
    expect(kept(minP(l, 1))).toEqual([3]);
    expect(kept(minP(l, 0))).toEqual([0, 1, 2, 3]);
    expect(kept(minP(Float32Array.from([3, 3, 0]), 1))).toEqual([0, 1]);  // ties with the max survive p=1
  });

  it("argmax takes the lowest index on ties; sampleIndex inverts the CDF", () => {
    expect(argmax(Float32Array.from([1, 3, 3, 2]))).toBe(1);
    const p = [0.1, 0.2, 0.3, 0.4];
    expect([0, 0.05, 0.15, 0.31, 0.61, 0.999].map((u) => sampleIndex(p, u))).toEqual([0, 0, 1, 2, 3, 3]);
    expect(sampleIndex([0, 0.5, 0, 0.5], 0.7)).toBe(3);
    expect(sampleIndex([0, 1, 0], 0.9999999)).toBe(1);
  });
});

describe("Sampler", () => {
  it("temperature 0 is greedy, after the repetition penalty", () => {
    const s = new Sampler({ temperature: 0, repetitionPenalty: 3 });
    expect(s.next(Float32Array.from([1, 2.5, 2]))).toBe(1);
    expect(s.next(Float32Array.from([1, 2.5, 2]), [1])).toBe(2);  // 2.5/3 < 2
  });

  it("draws match the distribution and the seed fixes them", () => {
    const l = logitsOf(1, 2, 3, 4);
    const draw = (seed: number, n: number) => { const s = new Sampler({ temperature: 1, seed }); return Array.from({ length: n }, () => s.next(l)); };
    const a = draw(7, 20000);
    expect(draw(7, 20000)).toEqual(a);
    expect(draw(8, 50)).not.toEqual(a.slice(0, 50));
    const freq = [0, 1, 2, 3].map((i) => a.filter((x) => x === i).length / a.length);
    [0.1, 0.2, 0.3, 0.4].forEach((q, i) => expect(Math.abs(freq[i] - q)).toBeLessThan(0.015));
  });

  it("the chain applies top-k, top-p and min-p: only surviving tokens are drawn", () => {
    const l = logitsOf(1, 2, 3, 4, 5, 6, 7, 8);
    const seen = (o: object) => { const s = new Sampler({ temperature: 1, seed: 1, ...o }); return [...new Set(Array.from({ length: 2000 }, () => s.next(l)))].sort(); };
    expect(seen({ topK: 3 })).toEqual([5, 6, 7]);
    expect(seen({ topP: 0.4 })).toEqual([6, 7]);          // 8/36 + 7/36 = 0.417 >= 0.4
    expect(seen({ minP: 0.7 })).toEqual([5, 6, 7]);       // >= 5.6/36
    expect(seen({ topK: 3, minP: 0.8 })).toEqual([6, 7]);
  });

  it("rejects out-of-range options with the option's name", () => {
    expect(() => new Sampler({ topP: 0 })).toThrow(/topP/);
    expect(() => new Sampler({ minP: 1.5 })).toThrow(/minP/);
    expect(() => new Sampler({ temperature: -1 })).toThrow(/temperature/);
    expect(() => new Sampler({ topK: 1.5 })).toThrow(/topK/);
    expect(() => new Sampler({ repetitionPenalty: 0 })).toThrow(/repetitionPenalty/);
  });
});

describe("sampling in the backend (forwardSample) makes the Sampler's choices", () => {
  it("a NemotronH generation samples natively on every backend with the same ids as the Sampler over its logits", async () => {
    const { NemotronH, bundledModel, generate, availableBackends } = await import("../src/index");
    const dir = await bundledModel("tiny-nano");
    for (const backend of availableBackends()) {
      const model = NemotronH.load(dir, { backend });
      // The same model seen only through forward(): generate falls back to the Sampler over the logits.
      const plain = { config: model.config, vocabSize: model.vocabSize, newState: model.newState.bind(model), forward: model.forward.bind(model) };
      const settings = [
        { temperature: 0 }, { temperature: 1, seed: 3 }, { temperature: 0.8, topK: 20, topP: 0.9, seed: 5 },
        { temperature: 1.1, minP: 0.02, repetitionPenalty: 1.3, seed: 11 },
      ];
      for (const s of settings) {
        const opts = { ids: [1, 2, 3, 4, 5], maxTokens: 24, ignoreEos: true, ...s };
        const native = await generate(model, undefined, opts);
        const ts = await generate(plain, undefined, opts);
        expect(native.ids, `${backend} ${JSON.stringify(s)}`).toEqual(ts.ids);
        expect(native.samplingMs).toBe(0);  // no logits came back to sample
      }
    }
  });
});
