/**
 * Direct logit attribution: how much each block writes a token's logit straight into the residual
 * stream. The final residual is a sum, r = embeddings + Σ_i mixer_i (each block adds its mixer
 * output), and the logit is W[tok] · (w_f ⊙ s·r) with s = 1/√(mean(r²) + ε) the norm_f scale.
 * Freezing s at its value on the final residual (as TransformerLens does) makes the logit linear
 * in r, so each term's share is W[tok] · (w_f ⊙ s·term) and the shares plus the embedding term
 * sum exactly (to fp32 rounding) to the model's logit. The approximation is only the freeze: a
 * block's share is what it adds at the scale the whole stream sets, not what removing it would
 * change (removing it would also change s; that is what activation patching measures). It counts
 * direct paths only: what a block writes that later blocks read and rewrite is credited to them.
 */
import { Figure } from "../viz/figure";
import { KIND_COLORS } from "../quant/plots";
import type { NemotronH } from "../model/nemotron-h";
import type { ActivationCache } from "../model/activation-cache";

/** The hooks a cache needs for directLogitAttribution: the embeddings, every mixer output and the final residual. */
export function attributionHooks(model: NemotronH): string[] {
  return ["backbone.embeddings", "backbone.layers.*.mixer", `backbone.layers.${model.config.num_hidden_layers - 1}`];
}

export interface LogitAttribution {
  token: number;
  /** Attribution of token − versus (a logit difference) when set. */
  versus?: number;
  position: number;
  /** The norm_f scale s = 1/√(mean(r²) + ε) of the final residual at the position (frozen). */
  scale: number;
  /** The embedding term's share. */
  embedding: number;
  /** One share per block, in layer order. */
  layers: { layer: number; kind: string; value: number }[];
  /** embedding + Σ layers: the logit (difference) up to fp32 rounding. */
  total: number;
  /** The model's own logit (difference) at the position, from the cache's logits. */
  logit: number;
}

/** Row t of a [T, H] cache entry. */
const rowOf = (cache: ActivationCache, name: string, t: number) => cache.get(name).row(t);

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Each block's direct contribution to the logit of `token` (minus that of `versus`) at `position`
 * (default: the last), from a cache that recorded attributionHooks(model) (model.runWithCache(ids, { names:
 * attributionHooks(model) })). norm_f's scale is frozen at the final residual (see the file header).
 */
export function directLogitAttribution(model: NemotronH, cache: ActivationCache, token: number,
  options: { position?: number; versus?: number } = {}): LogitAttribution {
  const c = model.config, H = c.hidden_size, V = model.vocabSize, L = c.num_hidden_layers, T = cache.tokens;
  const position = options.position ?? T - 1;
  if (!Number.isInteger(position) || position < 0 || position >= T) throw new RangeError(`directLogitAttribution: position ${position} is outside [0, ${T})`);
  for (const [what, id] of [["token", token], ["versus", options.versus]] as const) {
    if (id !== undefined && !(Number.isInteger(id) && id >= 0 && id < V)) throw new RangeError(`directLogitAttribution: ${what} ${id} is outside the vocabulary [0, ${V})`);
  }
  const head = c.tie_word_embeddings ? model.weight("backbone.embeddings.weight") : model.weight("lm_head.weight");
  const normW = model.weight("backbone.norm_f.weight").values();
  const r = rowOf(cache, `backbone.layers.${L - 1}`, position);
  const scale = 1 / Math.sqrt(dot(r, r) / H + c.layer_norm_epsilon);
  // u = s · w_f ⊙ (W[token] − W[versus]): each term's share is u · term.
  const u = new Float32Array(H), w = head.row(token), wv = options.versus !== undefined ? head.row(options.versus) : undefined;
  for (let h = 0; h < H; h++) u[h] = scale * normW[h] * (w[h] - (wv ? wv[h] : 0));
  const embedding = dot(u, rowOf(cache, "backbone.embeddings", position));
  const layers = model.checkpoint.plan.map((l) => ({ layer: l.index, kind: l.kind as string, value: dot(u, rowOf(cache, `${l.path}.mixer`, position)) }));
  const total = layers.reduce((a, l) => a + l.value, embedding);
  const lg = cache.logits.subarray(position * V, (position + 1) * V);
  return { token, versus: options.versus, position, scale, embedding, layers, total, logit: lg[token] - (options.versus !== undefined ? lg[options.versus] : 0) };
}

/** The attribution as bars by layer (the embedding term at layer −1), coloured by block kind. */
export function logitAttributionView(a: LogitAttribution, decode: (id: number) => string = String): Figure {
  const rows = [{ layer: -1, kind: "embedding", value: a.embedding }, ...a.layers];
  const kinds = [...new Set(rows.map((r) => r.kind))];
  const target = a.versus !== undefined ? `${JSON.stringify(decode(a.token))} − ${JSON.stringify(decode(a.versus))}` : JSON.stringify(decode(a.token));
  return new Figure(kinds.map((k) => {
    const rs = rows.filter((r) => r.kind === k);
    return { type: "bar", name: k, x: rs.map((r) => r.layer), y: rs.map((r) => r.value), marker: { color: KIND_COLORS[k] ?? "#333" },
      hovertemplate: `layer %{x} (${k}): %{y:.4g}<extra></extra>` };
  }), {
    title: `direct logit attribution of ${target} at position ${a.position}: sum ${a.total.toFixed(3)}, logit ${a.logit.toFixed(3)}`,
    xaxis: { title: "layer (−1: embeddings)" }, yaxis: { title: "share of the logit (norm_f scale frozen)" }, barmode: "group", height: 420,
  });
}
