/**
 * What quantization does to the model's outputs: next-token distributions of the
 * original and the quantized model on the same prompts (KL divergence mean / p99 / max,
 * top-1 agreement), perplexity on a token sequence, and greedy generations side by side.
 * The live model is swapped in place, so the original's logits are recorded first.
 */
import { progress } from "../util/progress";
import { SortableTable, fixed } from "../viz/table";
import type { CausalLM, QuantizableModel } from "./model";
import { abortError, workSignal } from "../util/cancel";
import { beginUndo } from "../util/undo";
import { ModelQuantOptions, QuantSession, quantizeModel } from "./session";

/** Logits [T, vocab] of each prompt, as recorded from one model state. */
export interface LogitsRecord {
  vocab: number;
  prompts: number[][];
  logits: Float32Array[];
}

export interface DistributionShift {
  tokens: number;
  klMean: number;
  klP99: number;
  klMax: number;
  /** Fraction of positions where both models' argmax agree. */
  top1Agreement: number;
  /** KL per position, all prompts concatenated (for plots). */
  kl: Float64Array;
}

/** Runs each prompt from a fresh state and keeps the logits of every position. */
export function recordLogits(model: CausalLM, prompts: ArrayLike<number>[], options: { signal?: AbortSignal; label?: string; progress?: boolean } = {}): LogitsRecord {
  const signal = workSignal(options.signal);
  if (!prompts.length) throw new RangeError("recordLogits: no prompts (give token id arrays)");
  // progress: false inside a loop that shows its own bar (a sensitivity sweep), so a notebook gets one bar, not one per group.
  const bar = options.progress === false ? { update: () => undefined, finish: () => undefined } : progress(options.label ?? "running prompts", prompts.length);
  const logits: Float32Array[] = [];
  try {
    prompts.forEach((p, i) => {
      if (signal?.aborted) throw abortError(signal);
      if (!p.length) throw new RangeError(`prompt ${i} is empty`);
      logits.push(model.forward(p, model.newState({ maxTokens: p.length }), { signal }));
      bar.update(i + 1);
    });
  } finally {
    bar.finish();
  }
  return { vocab: model.vocabSize, prompts: prompts.map((p) => Array.from(p)), logits };
}

/** log-softmax of one row, in float64. */
export function logSoftmax(row: Float32Array): Float64Array {
  let m = -Infinity;
  for (const v of row) if (v > m) m = v;
  let s = 0;
  for (const v of row) s += Math.exp(v - m);
  const lse = m + Math.log(s);
  const out = new Float64Array(row.length);
  for (let i = 0; i < row.length; i++) out[i] = row[i] - lse;
  return out;
}

/** KL(P_base || P_other) per position, and top-1 agreement. */
export function distributionShift(base: LogitsRecord, other: LogitsRecord): DistributionShift {
  if (base.logits.length !== other.logits.length || base.vocab !== other.vocab) {
    throw new RangeError(`distributionShift: records differ (${base.logits.length} vs ${other.logits.length} prompts, vocab ${base.vocab} vs ${other.vocab})`);
  }
  const V = base.vocab;
  const kls: number[] = [];
  let agree = 0;
  for (let p = 0; p < base.logits.length; p++) {
    const a = base.logits[p], b = other.logits[p];
    if (a.length !== b.length) throw new RangeError(`distributionShift: prompt ${p} has ${a.length / V} vs ${b.length / V} positions`);
    for (let t = 0; t < a.length / V; t++) {
      const ra = a.subarray(t * V, (t + 1) * V), rb = b.subarray(t * V, (t + 1) * V);
      const la = logSoftmax(ra), lb = logSoftmax(rb);
      let kl = 0;
      for (let i = 0; i < V; i++) { const pa = Math.exp(la[i]); if (pa > 0) kl += pa * (la[i] - lb[i]); }
      kls.push(Math.max(0, kl));
      if (argmax(ra) === argmax(rb)) agree++;
    }
  }
  const kl = Float64Array.from(kls);
  const sorted = Float64Array.from(kl).sort();
  return {
    tokens: kl.length,
    klMean: kl.reduce((x, y) => x + y, 0) / Math.max(1, kl.length),
    klP99: quantile(sorted, 0.99),
    klMax: sorted.length ? sorted[sorted.length - 1] : 0,
    top1Agreement: kl.length ? agree / kl.length : 1,
    kl,
  };
}

export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

function quantile(sorted: Float64Array, q: number): number {
  if (!sorted.length) return 0;
  const pos = q * (sorted.length - 1), lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Perplexity of the model on a token sequence: exp(mean over t of -log p(ids[t+1] | ids[..t])). */
export function perplexity(model: CausalLM, ids: ArrayLike<number>, options: { signal?: AbortSignal } = {}): number {
  if (ids.length < 2) throw new RangeError("perplexity needs at least 2 tokens");
  return perplexityOfLogits(model.forward(ids, model.newState({ maxTokens: ids.length }), { signal: options.signal }), ids, model.vocabSize);
}

/** The same from the logits [ids.length, V] of a pass over ids already made. */
export function perplexityOfLogits(logits: Float32Array, ids: ArrayLike<number>, V: number): number {
  let nll = 0;
  for (let t = 0; t + 1 < ids.length; t++) nll -= logSoftmax(logits.subarray(t * V, (t + 1) * V))[ids[t + 1]];
  return Math.exp(nll / (ids.length - 1));
}

/** Greedy decoding: the prompt, then argmax tokens one at a time through the state. */
export function greedy(model: CausalLM, prompt: ArrayLike<number>, maxNewTokens: number, options: { eos?: number[]; signal?: AbortSignal } = {}): number[] {
  const state = model.newState({ maxTokens: prompt.length + maxNewTokens });
  let last = model.forward(prompt, state, { lastOnly: true, signal: options.signal });
  const out: number[] = [];
  for (let i = 0; i < maxNewTokens; i++) {
    if (options.signal?.aborted) throw abortError(options.signal);
    const next = argmax(last.subarray(last.length - model.vocabSize));
    out.push(next);
    if (options.eos?.includes(next)) break;
    last = model.forward([next], state, { lastOnly: true, signal: options.signal });
  }
  return out;
}

/** Original vs quantized, as numbers and side-by-side generations. */
export class QuantComparison {
  constructor(
    readonly shift: DistributionShift,
    readonly perplexity: { base: number; quantized: number } | undefined,
    readonly generations: { prompt: number[]; base: number[]; quantized: number[] }[],
    /** Turns token ids into text for display (e.g. a tokenizer's decode); ids otherwise. */
    readonly decode: (ids: number[]) => string = (ids) => ids.join(" "),
  ) {}

  table(): SortableTable {
    const s = this.shift;
    const rows: (string | number)[][] = [
      ["KL mean (nats)", s.klMean], ["KL p99", s.klP99], ["KL max", s.klMax], ["top-1 agreement", s.top1Agreement], ["positions", s.tokens],
    ];
    if (this.perplexity) rows.push(["perplexity, original", this.perplexity.base], ["perplexity, quantized", this.perplexity.quantized]);
    return new SortableTable([{ header: "measure" }, { header: "value", format: (v) => (Number.isInteger(v) ? String(v) : Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(3) : fixed(6)(v)) }], rows, "original vs quantized");
  }

  generationsTable(): SortableTable {
    return new SortableTable([{ header: "prompt" }, { header: "original" }, { header: "quantized" }, { header: "same" }],
      this.generations.map((g) => [this.decode(g.prompt), this.decode(g.base), this.decode(g.quantized), sameUntil(g.base, g.quantized)]),
      "greedy generations");
  }

  toString(): string {
    return `${this.table()}\n\n${this.generationsTable()}`;
  }

  [Symbol.for("Jupyter.display")](): Record<string, string> {
    return { "text/html": this.table().toHtml() + this.generationsTable().toHtml(), "text/plain": this.toString() };
  }
}

function sameUntil(a: number[], b: number[]): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i === a.length && i === b.length ? "yes" : `first ${i} tokens`;
}

export interface CompareOptions {
  prompts: ArrayLike<number>[];
  /** A token sequence for perplexity. */
  perplexityIds?: ArrayLike<number>;
  /** New tokens of greedy generation per prompt (0 = none; default 16). */
  generate?: number;
  eos?: number[];
  decode?: (ids: number[]) => string;
  signal?: AbortSignal;
}

/** Baseline numbers of the model as it is now (call before quantizing). */
export interface Baseline {
  record: LogitsRecord;
  perplexity?: number;
  generations: number[][];
}

export function baseline(model: CausalLM, o: CompareOptions): Baseline {
  return {
    record: recordLogits(model, o.prompts, { signal: o.signal, label: "original model" }),
    perplexity: o.perplexityIds ? perplexity(model, o.perplexityIds, o) : undefined,
    generations: o.prompts.map((p) => ((o.generate ?? 16) > 0 ? greedy(model, p, o.generate ?? 16, o) : [])),
  };
}

/** The model as it is now (quantized) against a baseline recorded before. */
export function compareToBaseline(model: CausalLM, base: Baseline, o: CompareOptions): QuantComparison {
  const rec = recordLogits(model, o.prompts, { signal: o.signal, label: "quantized model" });
  const ppl = o.perplexityIds ? perplexity(model, o.perplexityIds, o) : undefined;
  const gens = o.prompts.map((p, i) => ({ prompt: Array.from(p), base: base.generations[i], quantized: (o.generate ?? 16) > 0 ? greedy(model, p, o.generate ?? 16, o) : [] }));
  return new QuantComparison(distributionShift(base.record, rec), ppl !== undefined ? { base: base.perplexity!, quantized: ppl } : undefined, gens, o.decode);
}

/** Records the baseline, quantizes the live model, and compares; the session stays applied (revert() to undo). */
export function evaluateQuantization(model: QuantizableModel, quant: ModelQuantOptions, o: CompareOptions): { session: QuantSession; comparison: QuantComparison } {
  const base = baseline(model, o);
  // Journaled before quantizing: stopped while comparing, the model goes back to the original
  // (the caller never got the session to revert).
  let session: QuantSession | undefined;
  const pending = beginUndo("evaluateQuantization: comparing the quantized model", () => session?.revert());
  try {
    session = quantizeModel(model, { ...quant, signal: quant.signal ?? o.signal });
    const comparison = compareToBaseline(model, base, o);
    pending.commit();
    return { session, comparison };
  } catch (e) {
    pending.rollback();
    throw e;
  }
}
