/**
 * Sampling: each step is a small pure function over a Float32Array of logits (one vocabulary
 * row) that returns a new array, so each one can be tested against a hand-computed distribution.
 * Filters mask tokens with -Infinity. The Sampler chains them in Hugging Face transformers'
 * order: repetition penalty, temperature, top-k, top-p, min-p, then a seeded draw
 * (temperature 0 = greedy: argmax after the repetition penalty). At a 131k vocabulary the
 * Sampler packs the survivors after top-k / top-p so later steps see only them
 * (bench/sampling.ts measures the cost per token).
 */
import { Rng } from "../util/random";
import type { NativeDraw } from "../backend/native";

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
  const threshold = kthLargest(logits, k);
  for (let i = 0; i < out.length; i++) if (!(out[i] >= threshold)) out[i] = -Infinity;
  return out;
}

/** Nucleus: walking tokens from most to least likely, a token is kept while the mass before it is < p. */
export function topP(logits: Float32Array, p: number): Float32Array {
  const out = logits.slice();
  if (p >= 1) return out;
  const probs = softmax(logits);
  // Only tokens at or above a cutoff whose mass already reaches p can be in the nucleus, so
  // sort just those (halving the cutoff from the top): a 131k vocabulary costs a few passes, not a full sort.
  let max = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i] > max) max = probs[i];
  let cutoff = max;
  for (;;) {
    let mass = 0;
    for (let i = 0; i < probs.length; i++) if (probs[i] >= cutoff) mass += probs[i];
    if (mass >= p || cutoff === 0) break;
    cutoff = cutoff < 1e-300 ? 0 : cutoff / 2;
  }
  // Sort the candidates' probabilities (a native numeric sort), walk down to the token that
  // brings the mass to p: its probability t is the bar; ties at t are taken lowest id first.
  let n = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i] >= cutoff && probs[i] > 0) n++;
  const cand = new Float64Array(n);
  n = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i] >= cutoff && probs[i] > 0) cand[n++] = probs[i];
  cand.sort();
  let mass = 0, kept = 0, t = cand[n - 1];
  for (let r = n - 1; r >= 0 && (kept === 0 || mass < p); r--) {  // always keep the most likely token
    t = cand[r];
    mass += t;
    kept++;
  }
  let tiesLeft = kept;
  for (let r = n - 1; r >= 0 && cand[r] > t; r--) tiesLeft--;
  for (let i = 0; i < out.length; i++) {
    if (probs[i] > t) continue;
    if (probs[i] === t && tiesLeft > 0) { tiesLeft--; continue; }
    out[i] = -Infinity;
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
    let l = o.repetitionPenalty === 1 ? logits : applyRepetitionPenalty(logits, context, o.repetitionPenalty);
    if (o.temperature === 0) return argmax(l);
    if (o.temperature !== 1) l = applyTemperature(l, o.temperature);
    // After a filter, the survivors are packed (ids ascending, so tie order is unchanged) and
    // the next steps run over them only: a 131k row shrinks to top-k's k entries.
    let ids: Uint32Array | undefined;
    const pack = () => {
      const keep: number[] = [];
      for (let i = 0; i < l.length; i++) if (l[i] > -Infinity) keep.push(i);
      if (keep.length * 2 > l.length) return;
      const packed = Float32Array.from(keep, (i) => l[i]);
      ids = Uint32Array.from(keep, (i) => (ids ? ids[i] : i));
      l = packed;
    };
    if (o.topK) { l = topK(l, o.topK); pack(); }
    if (o.topP < 1) { l = topP(l, o.topP); pack(); }
    if (o.minP > 0) l = minP(l, o.minP);
    const j = sampleIndex(softmax(l), this.uniform());
    return ids ? ids[j] : j;
  }

  /** The next number of this Sampler's stream (one per sampled token, none for greedy ones). */
  uniform(): number {
    return this.rng.uniform();
  }
}

/**
 * The same choice made by a backend's sample op (native/src/cpu/sample.cc, cuda/sample.cu): what
 * Sampler.next would compute, as settings plus the uniform number next() would draw, so the
 * logits need not leave the device. Draws from the Sampler's stream exactly when next() does.
 */
export function nativeDraw(sampler: Sampler, context: Iterable<number>): NativeDraw {
  const o = sampler.options;
  const u = o.temperature === 0 ? 0 : sampler.uniform();
  let ids: Int32Array | null = null;
  if (o.repetitionPenalty !== 1) ids = Int32Array.from(new Set(context));
  return { settings: Float64Array.from([o.temperature, o.topK, o.topP, o.minP, o.repetitionPenalty, u]), context: ids };
}

/** The k-th largest value (NaN counts as smallest), with a size-k min-heap: O(n log k). */
function kthLargest(values: Float32Array, k: number): number {
  const heap = new Float64Array(k);
  let size = 0;
  const key = (v: number) => (Number.isNaN(v) ? -Infinity : v);
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < size && heap[l] < heap[m]) m = l;
      if (r < size && heap[r] < heap[m]) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m], heap[i]];
      i = m;
    }
  };
  for (let j = 0; j < values.length; j++) {
    const v = key(values[j]);
    if (size < k) {
      let i = size++;
      heap[i] = v;
      while (i > 0 && heap[(i - 1) >> 1] > heap[i]) { const q = (i - 1) >> 1; [heap[i], heap[q]] = [heap[q], heap[i]]; i = q; }
    } else if (v > heap[0]) {
      heap[0] = v;
      down(0);
    }
  }
  return heap[0];
}
