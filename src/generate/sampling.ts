/**
 * Sampling: each step is a small pure function over a Float32Array of logits (one vocabulary
 * row) that returns a new array, so each one can be tested against a hand-computed distribution.
 * Filters mask tokens with -Infinity. The Sampler chains them in Hugging Face transformers'
 * order: repetition penalty, temperature, top-k, top-p, min-p, then a seeded draw
 * (temperature 0 = greedy: argmax after the repetition penalty).
 */
import { Rng } from "../util/random";

export interface SamplingOptions {
  /** 0 (the default) is greedy decoding. */
  temperature?: number;
  /** Keep the k most likely tokens (ties at the k-th value kept too); 0 or undefined = off. */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p; 1 = off. */
  topP?: number;
  /** Keep tokens whose probability is at least minP times the most likely one's; 0 = off. */
  minP?: number;
  /** > 1 discourages tokens already in the context (CTRL / transformers rule); 1 = off. */
  repetitionPenalty?: number;
  /** The same seed gives the same tokens. */
  seed?: number;
}

/** transformers' RepetitionPenaltyLogitsProcessor: positive logits divided, negative multiplied. */
export function applyRepetitionPenalty(logits: Float32Array, context: Iterable<number>, penalty: number): Float32Array {
  const out = logits.slice();
  if (penalty === 1) return out;
  const seen = new Set<number>();
  for (const id of context) {
    if (seen.has(id) || id < 0 || id >= out.length) continue;
    seen.add(id);
    const v = out[id];
    out[id] = v < 0 ? v * penalty : v / penalty;
  }
  return out;
}

export function applyTemperature(logits: Float32Array, temperature: number): Float32Array {
  const out = logits.slice();
  if (temperature === 1) return out;
  for (let i = 0; i < out.length; i++) out[i] = out[i] / temperature;
  return out;
}

/** Keeps the logits >= the k-th largest value. */
export function topK(logits: Float32Array, k: number): Float32Array {
  const out = logits.slice();
  if (!k || k >= out.length) return out;
  const sorted = Float32Array.from(logits).sort().reverse();  // typed sort: numeric, NaN last
  const threshold = sorted[k - 1];
  for (let i = 0; i < out.length; i++) if (!(out[i] >= threshold)) out[i] = -Infinity;
  return out;
}

/** Nucleus: walking tokens from most to least likely, a token is kept while the mass before it is < p. */
export function topP(logits: Float32Array, p: number): Float32Array {
  const out = logits.slice();
  if (p >= 1) return out;
  const probs = softmax(logits);
  const order = finiteIndices(logits);
  order.sort((a, b) => probs[b] - probs[a] || a - b);
  let mass = 0;
  for (let r = 0; r < order.length; r++) {
    if (r > 0 && mass >= p) out[order[r]] = -Infinity;  // always keep the most likely token
    mass += probs[order[r]];
  }
  return out;
}

/** Keeps tokens whose probability is >= minP * (the largest probability). */
export function minP(logits: Float32Array, p: number): Float32Array {
  const out = logits.slice();
  if (p <= 0) return out;
  const probs = softmax(logits);
  let max = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i] > max) max = probs[i];
  const threshold = p * max;
  for (let i = 0; i < out.length; i++) if (probs[i] < threshold) out[i] = -Infinity;
  return out;
}

/** Softmax with float64 accumulation; -Infinity logits get probability 0. */
export function softmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  const out = new Float64Array(logits.length);
  if (max === -Infinity) throw new Error("softmax: every logit is -Infinity (all tokens were filtered out)");
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = logits[i] === -Infinity ? 0 : Math.exp(logits[i] - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/** Index of the largest logit; the lowest index on ties. */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** Inverse-CDF draw: the first index whose cumulative probability passes u in [0, 1). */
export function sampleIndex(probs: ArrayLike<number>, u: number): number {
  let cum = 0;
  let last = -1;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i] <= 0) continue;
    cum += probs[i];
    last = i;
    if (u < cum) return i;
  }
  if (last < 0) throw new Error("sampleIndex: the distribution has no mass");
  return last;  // rounding left cum just under 1
}

/** Checks the options once, with errors that name the option. */
export function validateSampling(o: SamplingOptions): Required<SamplingOptions> {
  const r = {
    temperature: o.temperature ?? 0, topK: o.topK ?? 0, topP: o.topP ?? 1, minP: o.minP ?? 0,
    repetitionPenalty: o.repetitionPenalty ?? 1, seed: o.seed ?? 0,
  };
  const bad = (name: string, want: string, v: number) => new RangeError(`sampling: ${name} must be ${want}, got ${v}`);
  if (!(r.temperature >= 0) || !Number.isFinite(r.temperature)) throw bad("temperature", "a finite number >= 0", r.temperature);
  if (!Number.isInteger(r.topK) || r.topK < 0) throw bad("topK", "an integer >= 0 (0 = off)", r.topK);
  if (!(r.topP > 0 && r.topP <= 1)) throw bad("topP", "in (0, 1]", r.topP);
  if (!(r.minP >= 0 && r.minP <= 1)) throw bad("minP", "in [0, 1]", r.minP);
  if (!(r.repetitionPenalty > 0) || !Number.isFinite(r.repetitionPenalty)) throw bad("repetitionPenalty", "a finite number > 0", r.repetitionPenalty);
  if (!Number.isInteger(r.seed)) throw bad("seed", "an integer", r.seed);
  return r;
}

/** The sampling chain with its own seeded random stream: one Sampler per generation. */
export class Sampler {
  readonly options: Required<SamplingOptions>;
  private readonly rng: Rng;

  constructor(options: SamplingOptions = {}) {
    this.options = validateSampling(options);
    this.rng = new Rng(this.options.seed);
  }

  /** Picks the next token from one row of logits, given the ids in context (prompt + generated). */
  next(logits: Float32Array, context: Iterable<number> = []): number {
    const o = this.options;
    let l = applyRepetitionPenalty(logits, context, o.repetitionPenalty);
    if (o.temperature === 0) return argmax(l);
    l = applyTemperature(l, o.temperature);
    if (o.topK) l = topK(l, o.topK);
    if (o.topP < 1) l = topP(l, o.topP);
    if (o.minP > 0) l = minP(l, o.minP);
    return sampleIndex(softmax(l), this.rng.uniform());
  }
}

function finiteIndices(logits: Float32Array): number[] {
  const idx: number[] = [];
  for (let i = 0; i < logits.length; i++) if (logits[i] > -Infinity) idx.push(i);
  return idx;
}
