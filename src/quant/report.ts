/**
 * The error report of a quantization: one row per tensor (SQNR, relative L2, max and mean
 * absolute error, cosine, fractions clipped / flushed to zero / subnormal, the scales
 * chosen), shown as a sortable HTML table in notebooks and a text table in terminals.
 */
import type { QuantizedTensor } from "../fp8/quantize";
import { scaleChoiceName } from "../fp8/quantize";
import type { QuantErrorMetrics } from "../fp8/metrics";
import { SortableTable, Column, percentFormat, fixed, Cell } from "../viz/table";
import { formatShape } from "../util/format";
import type { SelectKind } from "./selector";

export interface QuantReportRow {
  name: string;
  layer: number;
  kind: SelectKind;
  shape: number[];
  format: string;
  granularity: string;
  scaleChoice: string;
  /** Number of scales and their range. */
  scales: number;
  scaleMin: number;
  scaleMax: number;
  metrics: QuantErrorMetrics;
  /** Static input-activation scale, when activations are quantized statically. */
  inputScale?: number;
  seconds: number;
  bytesIn: number;
}

export function reportRow(q: QuantizedTensor, layer: number, kind: SelectKind, bytesIn: number, inputScale?: number): QuantReportRow {
  let mn = Infinity, mx = -Infinity;
  for (const s of q.scales) { if (s < mn) mn = s; if (s > mx) mx = s; }
  return {
    name: q.name, layer, kind, shape: q.shape, format: q.format, granularity: q.granularity === "block" ? `block ${q.blockRows}x${q.blockCols}` : q.granularity,
    scaleChoice: scaleChoiceName(q.scaleChoice), scales: q.scales.length, scaleMin: mn, scaleMax: mx,
    metrics: q.metrics!, inputScale, seconds: q.seconds, bytesIn,
  };
}

export class QuantReport {
  constructor(readonly rows: QuantReportRow[], readonly title = "FP8 quantization error") {}

  /** Worst-first by SQNR. */
  worst(n = 5): QuantReportRow[] {
    return [...this.rows].sort((a, b) => a.metrics.sqnrDb - b.metrics.sqnrDb).slice(0, n);
  }

  get summary(): { tensors: number; elements: number; seconds: number; gbPerSecond: number; minSqnrDb: number; meanSqnrDb: number } {
    const elements = this.rows.reduce((a, r) => a + r.metrics.count, 0);
    const seconds = this.rows.reduce((a, r) => a + r.seconds, 0);
    const bytes = this.rows.reduce((a, r) => a + r.bytesIn, 0);
    const sq = this.rows.map((r) => r.metrics.sqnrDb).filter(Number.isFinite);
    return {
      tensors: this.rows.length, elements, seconds, gbPerSecond: seconds > 0 ? bytes / seconds / 1e9 : 0,
      minSqnrDb: sq.length ? Math.min(...sq) : NaN, meanSqnrDb: sq.length ? sq.reduce((a, b) => a + b, 0) / sq.length : NaN,
    };
  }

  table(): SortableTable {
    const hasInput = this.rows.some((r) => r.inputScale !== undefined);
    const cols: Column[] = [
      { header: "tensor" }, { header: "layer" }, { header: "kind" }, { header: "shape" },
      // One column for how it was quantized keeps the table near notebook width.
      { header: "format", title: "FP8 format, scale granularity, scale choice" },
      { header: "SQNR dB", format: fixed(2), title: "10 log10(|x|^2 / |q - x|^2)" }, { header: "rel L2", title: "|q - x| / |x|" },
      { header: "max |err|" }, { header: "mean |err|" }, { header: "cosine", format: fixed(6) },
      { header: "clipped", format: percentFormat, title: "fraction with |x / scale| above the format max" },
      { header: "flushed", format: percentFormat, title: "fraction of non-zeros that became 0" },
      { header: "subnormal", format: percentFormat, title: "fraction that became subnormal codes" },
      { header: "scales", title: "number of scales" }, { header: "scale min" }, { header: "scale max" },
      ...(hasInput ? [{ header: "input scale" }] : []),
      { header: "ms", format: fixed(2) },
    ];
    const rows: Cell[][] = this.rows.map((r) => [
      r.name, r.layer, r.kind, formatShape(r.shape), `${r.format} ${r.granularity} ${r.scaleChoice}`,
      r.metrics.sqnrDb, r.metrics.relL2, r.metrics.maxAbs, r.metrics.meanAbs, r.metrics.cosine,
      r.metrics.fracClipped, r.metrics.fracFlushedZero, r.metrics.fracSubnormal, r.scales, r.scaleMin, r.scaleMax,
      ...(hasInput ? [r.inputScale ?? NaN] : []), r.seconds * 1000,
    ]);
    const s = this.summary;
    return new SortableTable(cols, rows, `${this.title}: ${s.tensors} tensors, ${(s.elements / 1e6).toFixed(2)} M values, ` +
      `SQNR min ${s.minSqnrDb.toFixed(2)} dB / mean ${s.meanSqnrDb.toFixed(2)} dB, ${s.seconds.toFixed(3)} s (${s.gbPerSecond.toFixed(2)} GB/s of input)`);
  }

  toString(): string {
    return this.table().toString();
  }

  toHtml(): string {
    return this.table().toHtml();
  }

  [Symbol.for("Jupyter.display")](): Record<string, string> {
    const t = this.table();
    return { "text/html": t.toHtml(), "text/plain": t.toString() };
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}
