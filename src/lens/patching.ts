/**
 * Activation patching between a clean and a corrupted prompt of the same length: run the corrupted
 * prompt with one activation (one hook, some positions) replaced by its value on the clean prompt,
 * and measure how much of the clean logit difference (answer − wrong at one position) comes back,
 * normalised so the corrupted run is 0 and the clean run 1. Swept over every block output
 * (backbone.layers.{i}, the residual stream after block i) or mixer output at every position, it
 * shows where in depth and in the sequence the information that decides the answer lives.
 */
import { Figure } from "../viz/figure";
import { progress } from "../util/progress";
import { abortError, workSignal } from "../util/cancel";
import type { NemotronH } from "../model/nemotron-h";
import type { ActivationCache } from "../model/activation-cache";

export interface PatchTarget {
  /** The answer token whose logit should win on the clean prompt. */
  answer: number;
  /** The competitor (the corrupted prompt's answer). */
  wrong: number;
  /** Where the logit difference is read (default: the last position). */
  position?: number;
}

export interface PatchingOptions extends PatchTarget {
  /** Which hook of each block to patch: its output (the residual stream, default) or its mixer output. */
  point?: "block" | "mixer";
  /** Layers to sweep (default all). */
  layers?: readonly number[];
  signal?: AbortSignal;
}

export interface PatchingResult {
  point: "block" | "mixer";
  layers: number[];
  kinds: string[];
  /** restored[l][p]: normalised logit difference with layer layers[l] patched at position p alone. */
  restored: number[][];
  clean: number;
  corrupted: number;
  tokens: number;
}

/** The clean run's cache of the hooks to patch, and both runs' logit differences. */
export class PatchingBaseline {
  readonly clean: number;
  readonly corrupted: number;
  readonly position: number;
  /** @internal */
  constructor(readonly model: NemotronH, readonly cleanIds: number[], readonly corruptedIds: number[], readonly target: PatchTarget,
    readonly cache: ActivationCache, corruptedLogits: Float32Array) {
    this.position = target.position ?? cleanIds.length - 1;
    this.clean = this.diff(cache.logits);
    this.corrupted = this.diff(corruptedLogits);
    if (this.clean === this.corrupted) {
      throw new Error(`activation patching: the logit difference (answer ${target.answer} − wrong ${target.wrong}) is ${this.clean} on both prompts, so nothing can be restored; pick prompts or tokens that differ`);
    }
  }

  /** answer − wrong logit at the read position. */
  diff(logits: Float32Array): number {
    const o = this.position * this.model.vocabSize;
    return logits[o + this.target.answer] - logits[o + this.target.wrong];
  }

  /** The corrupted run with `hook` replaced by its clean value at `positions`: its normalised logit difference. */
  patch(hook: string, positions: readonly number[]): number {
    const clean = this.cache.get(hook), width = clean.shape.slice(1).reduce((a, b) => a * b, 1), T = this.cleanIds.length;
    for (const p of positions) if (!(Number.isInteger(p) && p >= 0 && p < T)) throw new RangeError(`patch('${hook}'): position ${p} is outside [0, ${T})`);
    const src = clean.values();
    const run = this.model.runWithHooks(this.corruptedIds, {
      [hook]: (_a, ctx) => { for (const p of positions) ctx.data.set(src.subarray(p * width, (p + 1) * width), p * width); },
    }, { names: [] });
    return (this.diff(run.logits) - this.corrupted) / (this.clean - this.corrupted);
  }
}

function checkPrompts(model: NemotronH, clean: ArrayLike<number>, corrupted: ArrayLike<number>, t: PatchTarget): void {
  if (clean.length !== corrupted.length) {
    throw new RangeError(`activation patching: the clean prompt has ${clean.length} tokens and the corrupted ${corrupted.length}; they must have the same length so positions line up`);
  }
  const V = model.vocabSize;
  for (const [k, id] of [["answer", t.answer], ["wrong", t.wrong]] as const) {
    if (!(Number.isInteger(id) && id >= 0 && id < V)) throw new RangeError(`activation patching: ${k} token ${id} is outside the vocabulary [0, ${V})`);
  }
  if (t.answer === t.wrong) throw new RangeError(`activation patching: answer and wrong are the same token (${t.answer}); the logit difference would be 0 on both prompts`);
  const p = t.position ?? clean.length - 1;
  if (!(Number.isInteger(p) && p >= 0 && p < clean.length)) throw new RangeError(`activation patching: position ${p} is outside [0, ${clean.length})`);
}

/** Runs the clean prompt (recording the hooks named; default every block output) and the corrupted one; patch() then patches one hook. */
export function patchingBaseline(model: NemotronH, clean: ArrayLike<number>, corrupted: ArrayLike<number>, target: PatchTarget,
  hooks: readonly string[] = model.checkpoint.plan.map((l) => l.path)): PatchingBaseline {
  checkPrompts(model, clean, corrupted, target);
  const cache = model.runWithCache(clean, { names: hooks });
  return new PatchingBaseline(model, Array.from(clean), Array.from(corrupted), target, cache, model.logits(corrupted));
}

/**
 * Patches each block output (or mixer output) at each position alone, the corrupted prompt's other
 * activations left as they are: layers × positions forward passes, with progress, interruptible.
 */
export function activationPatching(model: NemotronH, clean: ArrayLike<number>, corrupted: ArrayLike<number>, options: PatchingOptions): PatchingResult {
  const point = options.point ?? "block";
  if (point !== "block" && point !== "mixer") throw new RangeError(`activationPatching: point must be "block" or "mixer", got ${JSON.stringify(point)}`);
  const L = model.config.num_hidden_layers;
  const layers = [...(options.layers ?? Array.from({ length: L }, (_, i) => i))];
  for (const l of layers) if (!(Number.isInteger(l) && l >= 0 && l < L)) throw new RangeError(`activationPatching: layer ${l} is outside [0, ${L})`);
  const name = (l: number) => `backbone.layers.${l}${point === "mixer" ? ".mixer" : ""}`;
  const base = patchingBaseline(model, clean, corrupted, options, layers.map(name));
  const T = clean.length, signal = workSignal(options.signal);
  const bar = progress(`patching ${layers.length} layers × ${T} positions`, layers.length * T);
  const restored: number[][] = [];
  try {
    for (const l of layers) {
      const row: number[] = [];
      for (let p = 0; p < T; p++) {
        if (signal?.aborted) throw abortError(signal);
        row.push(base.patch(name(l), [p]));
        bar.update(restored.length * T + p + 1, name(l));
      }
      restored.push(row);
    }
  } finally {
    bar.finish();
  }
  return { point, layers, kinds: layers.map((l) => model.checkpoint.plan[l].kind), restored, clean: base.clean, corrupted: base.corrupted, tokens: T };
}

/** Layer × position heatmap of the restored logit difference (1: clean, 0: corrupted). */
export function activationPatchingView(r: PatchingResult, labels?: readonly string[]): Figure {
  const x = labels ? labels.map((s, i) => `${i}:${s}`) : Array.from({ length: r.tokens }, (_, i) => String(i));
  return new Figure([{
    type: "heatmap", z: r.restored, x, y: r.layers.map((l, i) => `${l} ${r.kinds[i]}`), colorscale: "RdBu", reversescale: true, zmid: 0,
    hovertemplate: "layer %{y}, position %{x}: %{z:.3f}<extra></extra>", colorbar: { title: { text: "restored" } },
  }], {
    title: `activation patching of ${r.point === "mixer" ? "mixer outputs" : "block outputs"}: clean diff ${r.clean.toFixed(3)} = 1, corrupted ${r.corrupted.toFixed(3)} = 0`,
    xaxis: { title: "position patched", type: "category" }, yaxis: { title: "layer", autorange: "reversed", type: "category" },
    height: Math.max(400, 14 * r.layers.length + 120),
  });
}
