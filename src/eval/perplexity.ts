/**
 * Perplexity of a causal LM on a long token sequence, in windows: each window is the prefix
 * (the tokenizer's BOS, as every training sequence starts) followed by up to window - prefix
 * tokens of the text, and scores only the `stride` tokens it adds past the previous window, so
 * with stride < window every scored token sees at least window - stride tokens of context.
 * Each window runs from a fresh state (the Mamba states and KV caches start empty).
 */
import { abortError } from "../io/writer";
import { logSoftmax } from "../quant/compare";
import type { CausalLM } from "../model/types";

export interface WindowedPerplexityOptions {
  /** Tokens per forward pass, prefix included (default 1024). */
  window?: number;
  /** Tokens scored per window (default window - prefix length: no overlap). */
  stride?: number;
  /** Ids put before every window (default none); give [bos] to match BOS-started training. */
  prefix?: number[];
  signal?: AbortSignal;
  /** Called after each window with the tokens scored so far. */
  onWindow?: (scored: number, total: number) => void;
}

export interface WindowedPerplexity {
  perplexity: number;
  /** Mean negative log-likelihood per scored token (nats). */
  nll: number;
  /** Tokens scored (all of ids, unless interrupted). */
  scored: number;
  /** Tokens run through the model (context overlap and prefixes included). */
  processed: number;
  windows: number;
  seconds: number;
  /** True when the signal stopped it early; the figures cover the windows done. */
  interrupted: boolean;
}

export function windowedPerplexity(model: CausalLM, ids: ArrayLike<number>, options: WindowedPerplexityOptions = {}): WindowedPerplexity {
  const prefix = options.prefix ?? [];
  const window = options.window ?? 1024;
  const room = window - prefix.length;
  if (!Number.isInteger(window) || room < 1) throw new RangeError(`perplexity: window must be an integer > ${prefix.length} (the prefix length), got ${window}`);
  const stride = options.stride ?? room;
  if (!Number.isInteger(stride) || stride < 1 || stride > room) throw new RangeError(`perplexity: stride must be an integer in [1, ${room}] (window minus prefix), got ${stride}`);
  const n = ids.length;
  if (n < (prefix.length ? 1 : 2)) throw new RangeError(`perplexity: the text has ${n} tokens; it needs at least ${prefix.length ? 1 : 2}`);
  const V = model.vocabSize;
  const t0 = performance.now();
  let nll = 0, scored = 0, processed = 0, windows = 0, interrupted = false;
  // Without a prefix the first token has nothing to be predicted from.
  let begin = prefix.length ? 0 : 1;
  while (begin < n) {
    if (options.signal?.aborted) { interrupted = true; break; }
    const end = Math.min(n, begin + stride);
    const ctx = Math.max(0, end - room);
    const input = [...prefix, ...Array.prototype.slice.call(ids, ctx, end) as number[]];
    let logits: Float32Array;
    try {
      logits = model.forward(input, model.newState({ maxTokens: input.length }), { signal: options.signal });
    } catch (e) {
      if (options.signal?.aborted) { interrupted = true; break; }
      throw e;
    }
    for (let j = begin; j < end; j++) {
      const pos = prefix.length + (j - ctx) - 1;  // the row that predicts ids[j]
      nll -= logSoftmax(logits.subarray(pos * V, (pos + 1) * V))[ids[j]];
    }
    scored += end - begin;
    processed += input.length;
    windows++;
    options.onWindow?.(scored, n - (prefix.length ? 0 : 1));
    begin = end;
  }
  if (interrupted && options.signal && !scored) throw abortError(options.signal);
  const mean = scored ? nll / scored : NaN;
  return { perplexity: Math.exp(mean), nll: mean, scored, processed, windows, seconds: (performance.now() - t0) / 1000, interrupted };
}
