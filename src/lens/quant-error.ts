/**
 * Quantization in context: the same hooks recorded on the model as it is and on the model with a
 * live FP8 quantization (quantizeModel, reverted afterwards), and the relative error of each hook,
 * ‖quantized − original‖ / ‖original‖ over all its values. Along the layers it shows where the
 * error enters (the first quantized block) and how the residual stream carries and grows it.
 */
import { errorMetrics } from "../fp8/metrics";
import { Figure } from "../viz/figure";
import { KIND_COLORS } from "../quant/plots";
import { quantizeModel, type ModelQuantOptions } from "../quant/session";
import type { NemotronH } from "../model/nemotron-h";
import type { ActivationCache } from "../model/activation-cache";

export interface HookError {
  name: string;
  /** -1: embeddings; num_hidden_layers: norm_f. */
  layer: number;
  kind: string;
  /** The hook point: block (residual after the block), mixer, embed, ... */
  point: string;
  relError: number;
}

/** Per-hook relative error of cache b against cache a (the entries both recorded, in a's order). */
export function cacheError(model: NemotronH, a: ActivationCache, b: ActivationCache): HookError[] {
  if (a.tokens !== b.tokens) throw new RangeError(`cacheError: the caches cover ${a.tokens} and ${b.tokens} tokens; record both on the same ids`);
  const hooks = new Map(model.hookPoints().map((h) => [h.name, h]));
  return a.names().filter((n) => b.has(n) && hooks.has(n)).map((n) => {
    const h = hooks.get(n)!;
    return { name: n, layer: h.layer, kind: h.kind, point: h.entry.point, relError: errorMetrics(a.get(n).values(), b.get(n).values()).relL2 };
  });
}

/**
 * Records `names` (default: embeddings, every mixer output and block output) on the model, then on
 * the model quantized live with `quant` (a quantizeModel selection and options), reverts, and
 * returns the per-hook relative errors. The model is back as it was afterwards, also on error.
 */
export function quantizationErrorByHook(model: NemotronH, input: ArrayLike<number> | string, quant: ModelQuantOptions = {},
  names: readonly string[] = model.hookPoints().filter((h) => ["embed", "mixer", "block"].includes(h.entry.point)).map((h) => h.name)): HookError[] {
  const before = model.runWithCache(input, { names, signal: quant.signal });
  const session = quantizeModel(model, { ...quant, label: quant.label ?? "quantizing for the error by hook" });
  try {
    return cacheError(model, before, model.runWithCache(input, { names, signal: quant.signal }));
  } finally {
    session.revert();
  }
}

/** Relative error by layer (log scale; exact zeros, before the first quantized block, sit on the floor), coloured by kind. */
export function quantizationErrorView(rows: readonly HookError[], point: "block" | "mixer" = "block", title?: string): Figure {
  const sel = rows.filter((r) => r.point === point);
  if (!sel.length) throw new Error(`quantizationErrorView: no '${point}' hooks among the rows; record backbone.layers.*${point === "mixer" ? ".mixer" : ""}`);
  const positive = sel.map((r) => r.relError).filter((v) => v > 0);
  const floor = positive.length ? Math.min(...positive) / 10 : 1e-12;
  const y = (r: HookError) => Math.max(r.relError, floor);
  const kinds = [...new Set(sel.map((r) => r.kind))];
  return new Figure([
    { type: "scatter", mode: "lines", x: sel.map((r) => r.layer), y: sel.map(y), line: { color: "#bbb" }, showlegend: false, hoverinfo: "skip" },
    ...kinds.map((k) => {
      const rs = sel.filter((r) => r.kind === k);
      return { type: "scatter", mode: "markers", name: k, x: rs.map((r) => r.layer), y: rs.map(y), text: rs.map((r) => `${r.name}: ${r.relError.toExponential(3)}`),
        marker: { color: KIND_COLORS[k] ?? "#333", size: 8 }, hovertemplate: "%{text}<extra></extra>" };
    }),
  ], {
    title: title ?? `relative error of each ${point === "mixer" ? "mixer output" : "block output (residual stream)"} under quantization`,
    xaxis: { title: "layer" }, yaxis: { title: "‖quantized − original‖ / ‖original‖", type: "log" }, height: 420,
  });
}
