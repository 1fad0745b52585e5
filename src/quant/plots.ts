/**
 * Figures of FP8 quantization: a tensor's value histogram with the FP8 grid and the
 * clipping limit overlaid; histograms of the quantization error (absolute or relative,
 * optionally log-scaled); a per-block (or per-tile) error heatmap of one tensor; and
 * per-layer charts of SQNR and of output sensitivity, coloured by block kind.
 */
import { Tensor } from "../tensor/tensor";
import { QuantizedTensor, dequantize } from "../fp8/quantize";
import { FP8_MAX, decodeFp8 } from "../fp8/codec";
import { Figure, Trace } from "../viz/figure";
import type { QuantReport } from "./report";
import type { SensitivityResult } from "./sensitivity";

export const KIND_COLORS: Record<string, string> = {
  mamba: "#1f77b4", attention: "#d62728", mlp: "#2ca02c", moe: "#9467bd", lm_head: "#ff7f0e", embedding: "#8c564b", norm: "#7f7f7f", mixed: "#17becf",
};

/** Histogram of a tensor's values; with a quantization, its FP8 grid (x the scale) and clip limits. */
export function valueHistogram(t: Tensor, q?: QuantizedTensor, options: { bins?: number; logY?: boolean } = {}): Figure {
  const h = t.histogram({ bins: options.bins ?? 200 });
  const centers = Array.from(h.counts, (_, i) => (h.edges[i] + h.edges[i + 1]) / 2);
  const data: Trace[] = [{ type: "bar", x: centers, y: Array.from(h.counts), name: "values", marker: { color: "#1f77b4" }, width: h.edges[1] - h.edges[0] }];
  const shapes: Record<string, unknown>[] = [];
  let note = "";
  if (q) {
    // The grid of the largest scale (for channel/block scales, the coarsest grid in the tensor).
    const s = Math.max(...q.scales);
    const grid = Array.from(decodeFp8(Uint8Array.from({ length: 256 }, (_, i) => i), q.format, s)).filter((v) => Number.isFinite(v) && v >= h.edges[0] && v <= h.edges[h.edges.length - 1]);
    const ymax = Math.max(...h.counts);
    data.push({ type: "scatter", mode: "markers", x: grid, y: grid.map(() => ymax * 1.02), name: `FP8 ${q.format} grid x ${s.toExponential(3)}`, marker: { symbol: "line-ns-open", size: 10, color: "#888" } });
    const clip = FP8_MAX[q.format] * s;
    for (const x of [-clip, clip]) shapes.push({ type: "line", x0: x, x1: x, y0: 0, y1: 1, yref: "paper", line: { color: "#d62728", dash: "dash" } });
    note = ` (clip ±${clip.toPrecision(4)}${q.scales.length > 1 ? `, largest of ${q.scales.length} scales` : ""})`;
  }
  return new Figure(data, {
    title: { text: `${t.name}: values${note}` }, xaxis: { title: { text: "value" } },
    yaxis: { title: { text: "count" }, type: options.logY ? "log" : "linear" }, shapes, bargap: 0, showlegend: true,
  });
}

/** Histogram of the quantization error (dequantised - original), absolute or relative to |x|; log bins of |error| with log. */
export function errorHistogram(original: Tensor, q: QuantizedTensor, options: { relative?: boolean; log?: boolean; bins?: number } = {}): Figure {
  const x = original.values(), y = dequantize(q);
  const err: number[] = [];
  for (let i = 0; i < x.length; i++) {
    const d = y[i] - x[i];
    if (options.relative) { if (x[i] !== 0 && Number.isFinite(x[i])) err.push(Math.abs(d) / Math.abs(x[i])); } else err.push(options.log ? Math.abs(d) : d);
  }
  const bins = options.bins ?? 150;
  const vals = options.log ? err.filter((e) => e > 0).map(Math.log10) : err;
  let lo = Infinity, hi = -Infinity;
  for (const v of vals) { if (v < lo) lo = v; if (v > hi) hi = v; }
  if (!(hi > lo)) { hi = lo + 1; }
  const counts = new Array(bins).fill(0);
  for (const v of vals) counts[Math.min(bins - 1, Math.floor(((v - lo) / (hi - lo)) * bins))]++;
  const centers = counts.map((_, i) => lo + ((i + 0.5) * (hi - lo)) / bins);
  const what = options.relative ? "|error| / |x|" : options.log ? "|error|" : "error";
  const zeros = options.log ? err.filter((e) => e === 0).length : 0;
  return new Figure([{ type: "bar", x: options.log ? centers.map((c) => 10 ** c) : centers, y: counts, marker: { color: "#ff7f0e" }, name: what }], {
    title: { text: `${q.name}: ${what} (${q.format}, ${q.granularity})${zeros ? `, ${zeros} exact` : ""}` },
    xaxis: { title: { text: what }, type: options.log ? "log" : "linear" }, yaxis: { title: { text: "count" } }, bargap: 0,
  });
}

/** SQNR (dB) per scale block (block granularity) or per tile of up to 128 x 128 (tensor/channel). */
export function errorHeatmap(original: Tensor, q: QuantizedTensor, options: { tile?: [number, number] } = {}): Figure {
  const x = original.values(), y = dequantize(q);
  const [br, bc] = options.tile ?? (q.granularity === "block" ? [q.blockRows, q.blockCols] : [Math.min(128, q.rows), Math.min(128, q.cols)]);
  const gr = Math.ceil(q.rows / br), gc = Math.ceil(q.cols / bc);
  const sig = new Float64Array(gr * gc), noise = new Float64Array(gr * gc);
  for (let r = 0; r < q.rows; r++) {
    for (let c = 0; c < q.cols; c++) {
      const i = r * q.cols + c, b = Math.floor(r / br) * gc + Math.floor(c / bc), d = y[i] - x[i];
      sig[b] += x[i] * x[i]; noise[b] += d * d;
    }
  }
  const z: (number | null)[][] = [];
  for (let i = 0; i < gr; i++) z.push(Array.from({ length: gc }, (_, j) => { const b = i * gc + j; return noise[b] > 0 ? 10 * Math.log10(sig[b] / noise[b]) : null; }));
  return new Figure([{ type: "heatmap", z, colorscale: "Viridis", colorbar: { title: { text: "SQNR dB" } },
    hovertemplate: `rows %{y}x${br}, cols %{x}x${bc}: %{z:.2f} dB<extra></extra>` }], {
    title: { text: `${q.name}: SQNR per ${br}x${bc} ${q.granularity === "block" ? "scale block" : "tile"}` },
    xaxis: { title: { text: `column block (${bc})` } }, yaxis: { title: { text: `row block (${br})` }, autorange: "reversed" },
  });
}

/** A per-layer chart: one marker per tensor at its layer (lm_head after the last), coloured by block kind. */
function layerChart(points: { layer: number; kind: string; name: string; y: number }[], title: string, ytitle: string, logY: boolean, lastLayer: number): Figure {
  const kinds = [...new Set(points.map((p) => p.kind))];
  const data: Trace[] = kinds.map((k) => {
    const ps = points.filter((p) => p.kind === k);
    return { type: "scatter", mode: "markers", name: k, x: ps.map((p) => (p.layer < 0 ? lastLayer + 1 : p.layer)), y: ps.map((p) => p.y), text: ps.map((p) => p.name),
      marker: { color: KIND_COLORS[k] ?? "#333", size: 9 }, hovertemplate: `%{text} (${k})<br>%{y:.4g}<extra></extra>` };
  });
  // Readable at notebook width: a tick every 1/2/5/10 layers (about 12 at most, upright), the
  // range just around the layers, the kinds in a legend above the plot.
  const n = lastLayer + 2;
  const dtick = [1, 2, 5, 10, 20, 50].find((d) => n / d <= 12) ?? Math.ceil(n / 12);
  return new Figure(data, {
    title: { text: title }, height: 400, margin: { l: 60, r: 20, t: 70, b: 50 },
    legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom", title: { text: "kind" } },
    xaxis: { title: { text: `layer (${lastLayer + 1} = lm_head)` }, range: [-0.7, lastLayer + 1.7], tickmode: "linear", tick0: 0, dtick, tickangle: 0, zeroline: false },
    yaxis: { title: { text: ytitle }, type: logY ? "log" : "linear" },
  });
}

/** SQNR of every quantized tensor across the layers. */
export function sqnrByLayer(report: QuantReport): Figure {
  const last = Math.max(0, ...report.rows.map((r) => r.layer));
  return layerChart(report.rows.map((r) => ({ layer: r.layer, kind: r.kind, name: r.name, y: r.metrics.sqnrDb })), `${report.title}: SQNR per tensor`, "SQNR (dB)", false, last);
}

/** KL to the original when each group alone is quantized, across the layers. */
export function sensitivityByLayer(result: SensitivityResult): Figure {
  const last = Math.max(0, ...result.rows.map((r) => r.layer));
  return layerChart(result.rows.map((r) => ({ layer: r.layer, kind: r.kind, name: r.group, y: Math.max(r.klMean, 1e-12) })), "output sensitivity: KL mean per group quantized alone", "KL mean (nats)", true, last);
}
