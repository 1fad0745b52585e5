/**
 * Precision what-if for the recurrent state: the same text run with the SSM state kept as fp32, bf16
 * or fp16 and the KV cache as fp32, bf16 or FP8 E4M3 (NemotronH load options ssmStateDtype /
 * kvCacheDtype, honoured by the native forward), against the fp32 state. The text is decoded the way
 * generation runs it: a short prefill, then one token per forward call, so the state is stored (and
 * rounded) after every token. Per setting: KL to the fp32 run, top-1 agreement, the text's
 * perplexity, and how many greedy tokens of a continuation match the fp32 one.
 */
import { Checkpoint } from "../model/checkpoint";
import { NemotronH, type StateDtypeName } from "../model/nemotron-h";
import { distributionShift, greedy, perplexityOfLogits, type LogitsRecord } from "../quant/compare";
import { SortableTable } from "../viz/table";
import { progress } from "../util/progress";
import { abortError, workSignal } from "../util/cancel";

export interface StatePrecisionOptions {
  /** [ssm state, KV cache] pairs to compare (default: each reduced dtype alone, and bf16 + FP8 together). */
  settings?: readonly (readonly [StateDtypeName, StateDtypeName])[];
  /** Tokens run as the prefill before token-by-token decoding (default 8). */
  prefill?: number;
  /** Greedy tokens generated after the text's first `prefill` tokens (default 24; 0: none). */
  generate?: number;
  signal?: AbortSignal;
}

export interface StatePrecisionRow {
  ssm: StateDtypeName;
  kv: StateDtypeName;
  klMean: number;
  klMax: number;
  top1Agreement: number;
  perplexity: number;
  /** Greedy tokens equal to the fp32 state's continuation before the first difference. */
  sameGreedy: number;
}

export const DEFAULT_STATE_SETTINGS: readonly (readonly [StateDtypeName, StateDtypeName])[] = [
  ["f32", "f32"], ["bf16", "f32"], ["f16", "f32"], ["f32", "bf16"], ["f32", "fp8_e4m3"], ["bf16", "fp8_e4m3"],
];

/** Logits of every position, the prefix in one call and each later token in its own call. */
function decodeLogits(model: NemotronH, ids: readonly number[], prefill: number, signal?: AbortSignal): Float32Array {
  const V = model.vocabSize, state = model.newState({ maxTokens: ids.length });
  const out = new Float32Array(ids.length * V);
  out.set(model.forward(ids.slice(0, prefill), state, { signal }), 0);
  for (let t = prefill; t < ids.length; t++) {
    if (signal?.aborted) throw abortError(signal);
    out.set(model.forward([ids[t]], state), t * V);
  }
  return out;
}

/** Runs the text once per setting (a fresh model of the checkpoint each, sharing its mapped weights). */
export function statePrecision(source: Checkpoint | string, ids: readonly number[], options: StatePrecisionOptions = {}): StatePrecisionRow[] {
  const ckpt = typeof source === "string" ? Checkpoint.open(source) : source;
  const prefill = options.prefill ?? 8, generate = options.generate ?? 24;
  if (!(Number.isInteger(prefill) && prefill >= 1 && prefill < ids.length)) {
    throw new RangeError(`statePrecision: prefill must be an integer in [1, ${ids.length - 1}] for ${ids.length} tokens, got ${prefill}`);
  }
  const settings = options.settings ?? DEFAULT_STATE_SETTINGS;
  const signal = workSignal(options.signal);
  const run = (ssm: StateDtypeName, kv: StateDtypeName) => {
    const model = NemotronH.load(ckpt, { ssmStateDtype: ssm, kvCacheDtype: kv });
    const logits = decodeLogits(model, ids, prefill, signal);
    return { model, logits, greedy: generate > 0 ? greedy(model, ids.slice(0, prefill), generate, { signal }) : [] };
  };
  const rec = (l: Float32Array): LogitsRecord => ({ vocab: ckpt.config!.vocab_size, prompts: [[...ids]], logits: [l] });
  const bar = progress("state precision settings", settings.length + 1);
  try {
    const base = run("f32", "f32");
    bar.update(1, "f32 / f32");
    return settings.map(([ssm, kv], i) => {
      const r = ssm === "f32" && kv === "f32" ? base : run(ssm, kv);
      bar.update(i + 2, `${ssm} / ${kv}`);
      const shift = distributionShift(rec(base.logits), rec(r.logits));
      let same = 0;
      while (same < r.greedy.length && r.greedy[same] === base.greedy[same]) same++;
      return { ssm, kv, klMean: shift.klMean, klMax: shift.klMax, top1Agreement: shift.top1Agreement, perplexity: perplexityOfLogits(r.logits, ids, r.model.vocabSize), sameGreedy: same };
    });
  } finally {
    bar.finish();
  }
}

export function statePrecisionTable(rows: readonly StatePrecisionRow[], generate = 24): SortableTable {
  const exp = (v: number) => (v === 0 ? "0" : v.toExponential(2));
  return new SortableTable([
    { header: "SSM state" }, { header: "KV cache" }, { header: "KL mean (nats)", format: exp }, { header: "KL max", format: exp },
    { header: "top-1 agree", format: (v) => `${(100 * v).toFixed(1)}%` }, { header: "perplexity", format: (v) => v.toFixed(3) },
    { header: `greedy tokens same (of ${generate})`, format: String },
  ], rows.map((r) => [r.ssm, r.kv, r.klMean, r.klMax, r.top1Agreement, r.perplexity, r.sameGreedy]),
  "state precision what-if: each setting against the fp32 SSM state and KV cache, decoding token by token");
}
