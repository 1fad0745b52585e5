/**
 * Views of an ActivationCache as plotly figures (src/viz/figure.ts): attention patterns,
 * the effective attention of a Mamba head, residual-stream norms per layer, SSM state norms
 * over the sequence, and the logit lens (each block's residual through norm_f and lm_head,
 * on the native kernels). Each takes the cache of a runWithCache call that recorded what it
 * shows; a missing entry says which call records it (ActivationCache.get).
 */
import { native } from "../backend/native";
import { dtypeCode } from "../tensor/dtype";
import { Figure } from "../viz/figure";
import type { NemotronH } from "../model/nemotron-h";
import type { ActivationCache } from "../model/activation-cache";

const heatmap = (z: number[][], title: string, x: string, y: string, extra: Record<string, unknown> = {}) =>
  new Figure([{ type: "heatmap", z, colorscale: "Viridis", ...extra }],
    { title, xaxis: { title: x }, yaxis: { title: y, autorange: "reversed" }, height: 450 });

function square(values: Float32Array, head: number, T: number): number[][] {
  return Array.from({ length: T }, (_, t) => Array.from(values.subarray((head * T + t) * T, (head * T + t + 1) * T)));
}

/** Token labels on both axes of a [T, T] heatmap ("3:cat", so repeated tokens stay apart). */
function tokenAxes(labels: readonly string[] | undefined, T: number): Record<string, unknown> {
  if (!labels) return {};
  if (labels.length !== T) throw new RangeError(`token labels: ${labels.length} labels for ${T} positions`);
  const axis = labels.map((s, i) => `${i}:${s}`);
  return { x: axis, y: axis };
}

function checkHead(t: { name: string; shape: readonly number[] }, head: number): void {
  if (!(Number.isInteger(head) && head >= 0 && head < t.shape[0])) throw new RangeError(`${t.name}: head ${head} is outside [0, ${t.shape[0]})`);
}

/** Softmax probabilities of one query head: query position down, key position across (token labels optional). */
export function attentionPatternView(cache: ActivationCache, layer: number, head: number, labels?: readonly string[]): Figure {
  const t = cache.get(`backbone.layers.${layer}.mixer.pattern`);
  checkHead(t, head);
  return heatmap(square(t.values(), head, cache.tokens), `layer ${layer} attention, head ${head}`, "key position", "query position", tokenAxes(labels, cache.tokens));
}

/** M[h] of a Mamba-2 head (y = M·x + D·x): how much each earlier token's x reaches each position. */
export function effectiveAttentionView(cache: ActivationCache, layer: number, head: number, labels?: readonly string[]): Figure {
  const t = cache.get(`backbone.layers.${layer}.mixer.effective_attention`);
  checkHead(t, head);
  return heatmap(square(t.values(), head, cache.tokens), `layer ${layer} Mamba-2 effective attention, head ${head}`, "source position", "position", tokenAxes(labels, cache.tokens));
}

/** RMS of the residual stream after each block, per position (from backbone.layers.* outputs). */
export function residualNorms(cache: ActivationCache): { layers: number[]; rms: number[][] } {
  const names = cache.names().filter((n) => /^backbone\.layers\.\d+$/.test(n));
  const rms = names.map((n) => {
    const t = cache.get(n), H = t.shape[1], v = t.values();
    return Array.from({ length: t.shape[0] }, (_, p) => {
      let s = 0;
      for (let i = 0; i < H; i++) s += v[p * H + i] ** 2;
      return Math.sqrt(s / H);
    });
  });
  return { layers: names.map((n) => Number(n.split(".")[2])), rms };
}

export function residualNormView(cache: ActivationCache): Figure {
  const { layers, rms } = residualNorms(cache);
  const mean = rms.map((r) => r.reduce((a, b) => a + b, 0) / r.length);
  return new Figure([{ type: "scatter", mode: "lines+markers", x: layers, y: mean, name: "mean over positions" }],
    // Log labels at 1, 2 and 5 of each decade: plotly's own choice over two decades labels 1..9, on top of each other at notebook height.
    { title: "residual stream RMS after each block", xaxis: { title: "layer" }, yaxis: { title: "RMS", type: "log", dtick: "D2" } });
}

/** Frobenius norm of each head's SSM state after each token: [nh][T]. */
export function ssmStateNorms(cache: ActivationCache, layer: number): number[][] {
  const t = cache.get(`backbone.layers.${layer}.mixer.ssm_state`);
  const [T, nh, P, N] = t.shape, v = t.values();
  return Array.from({ length: nh }, (_, h) => Array.from({ length: T }, (_, p) => {
    let s = 0;
    const o = (p * nh + h) * P * N;
    for (let i = 0; i < P * N; i++) s += v[o + i] ** 2;
    return Math.sqrt(s);
  }));
}

export function ssmStateNormView(cache: ActivationCache, layer: number): Figure {
  return heatmap(ssmStateNorms(cache, layer), `layer ${layer} SSM state norm per head`, "position", "head");
}

/**
 * Logit lens: each recorded block output through norm_f and lm_head (native kernels), top-k
 * token ids and probabilities per layer and position. The last block's row is the model's own output.
 */
export function logitLens(model: NemotronH, cache: ActivationCache, top = 1): { layers: number[]; ids: number[][][]; probs: number[][][] } {
  const c = model.config, H = c.hidden_size, V = c.vocab_size;
  const names = cache.names().filter((n) => /^backbone\.layers\.\d+$/.test(n));
  if (names.length === 0) throw new Error("logitLens: the cache has no block outputs; record them with model.runWithCache(ids, { names: [\"backbone.layers.*\"] })");
  const normW = model.weight("backbone.norm_f.weight").values();
  const head = model.config.tie_word_embeddings ? model.weight("backbone.embeddings.weight") : model.weight("lm_head.weight");
  const T = cache.tokens, x = new Float32Array(T * H), logits = new Float32Array(T * V);
  const vals = new Float32Array(top), idx = new Int32Array(top);
  const ids: number[][][] = [], probs: number[][][] = [];
  for (const n of names) {
    native().opRmsnorm(cache.get(n).values(), T, H, normW, c.layer_norm_epsilon, x, false);
    native().opLinear(x, T, head.bytes(), dtypeCode(head.dtype), head.rows, head.cols, head.scaleValues() ?? null,
      head.scale?.blockRows ?? 1, head.scale?.blockCols ?? 1, null, logits, false);
    const li: number[][] = [], lp: number[][] = [];
    for (let t = 0; t < T; t++) {
      const row = logits.slice(t * V, (t + 1) * V);
      native().topK(row, top, vals, idx);
      native().softmax(row, 1);
      li.push([...idx]);
      lp.push([...idx].map((i) => row[i]));
    }
    ids.push(li);
    probs.push(lp);
  }
  return { layers: names.map((n) => Number(n.split(".")[2])), ids, probs };
}

/** The logit lens as a heatmap: top-1 probability per layer and position, the token under each cell. */
export function logitLensView(model: NemotronH, cache: ActivationCache, decode: (id: number) => string = String): Figure {
  const { layers, ids, probs } = logitLens(model, cache, 1);
  return heatmap(probs.map((l) => l.map((p) => p[0])), "logit lens: top-1 token per layer and position", "position", "layer",
    { y: layers, text: ids.map((l) => l.map((p) => decode(p[0]))), texttemplate: "%{text}", hovertemplate: "layer %{y}, pos %{x}: %{text} (%{z:.3f})<extra></extra>" });
}
