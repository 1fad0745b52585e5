/**
 * The error report of a quantization: one row per tensor (SQNR, relative L2, max and mean
 * absolute error, cosine, fractions clipped / flushed to zero / subnormal, the scales
 * chosen), shown as a sortable HTML table in notebooks and a text table in terminals: by default
 * the columns that fit a notebook's output area, every column on demand (table("all")).
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

/** Which columns QuantReport.table shows: "summary" fits a notebook's output area, "all" has every one. */
export type ReportColumns = "summary" | "all";

/** Every column of the report, in order; `summary` marks those of the default (notebook-width) table. */
const REPORT_COLUMNS: { column: Column; summary: boolean; value: (r: QuantReportRow) => Cell }[] = [
  { column: { header: "tensor" }, summary: true, value: (r) => r.name },
  { column: { header: "layer" }, summary: true, value: (r) => r.layer },
  { column: { header: "kind" }, summary: true, value: (r) => r.kind },
  { column: { header: "shape" }, summary: true, value: (r) => formatShape(r.shape) },
  // One column for how it was quantized keeps the table near notebook width.
  { column: { header: "format", title: "FP8 format, scale granularity, scale choice" }, summary: true, value: (r) => `${r.format} ${r.granularity} ${r.scaleChoice}` },
  { column: { header: "SQNR dB", format: fixed(2), title: "10 log10(|x|^2 / |q - x|^2)" }, summary: true, value: (r) => r.metrics.sqnrDb },
  { column: { header: "rel L2", title: "|q - x| / |x|" }, summary: true, value: (r) => r.metrics.relL2 },
  { column: { header: "max |err|" }, summary: true, value: (r) => r.metrics.maxAbs },
  { column: { header: "mean |err|" }, summary: false, value: (r) => r.metrics.meanAbs },
  { column: { header: "cosine", format: fixed(6) }, summary: true, value: (r) => r.metrics.cosine },
  { column: { header: "clipped", format: percentFormat, title: "fraction with |x / scale| above the format max" }, summary: true, value: (r) => r.metrics.fracClipped },
  { column: { header: "flushed", format: percentFormat, title: "fraction of non-zeros that became 0" }, summary: true, value: (r) => r.metrics.fracFlushedZero },
  { column: { header: "subnormal", format: percentFormat, title: "fraction that became subnormal codes" }, summary: false, value: (r) => r.metrics.fracSubnormal },
  { column: { header: "scales", title: "number of scales" }, summary: false, value: (r) => r.scales },
  { column: { header: "scale min" }, summary: false, value: (r) => r.scaleMin },
  { column: { header: "scale max" }, summary: false, value: (r) => r.scaleMax },
  { column: { header: "input scale", title: "static input-activation scale" }, summary: false, value: (r) => r.inputScale ?? NaN },
  { column: { header: "ms", format: fixed(2), title: "time to quantize the tensor" }, summary: false, value: (r) => r.seconds * 1000 },
];

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

  /**
   * The table: by default the columns that say how good each tensor's FP8 copy is, narrow enough
   * for a notebook's output area; `"all"` adds mean |err|, subnormals, the scales, the input scale
   * (static activation scales) and the time per tensor.
   */
  table(columns: ReportColumns = "summary"): SortableTable {
    const hasInput = this.rows.some((r) => r.inputScale !== undefined);
    const applicable = REPORT_COLUMNS.filter((c) => c.column.header !== "input scale" || hasInput);
    const shown = applicable.filter((c) => columns === "all" || c.summary);
    const rows: Cell[][] = this.rows.map((r) => shown.map((c) => c.value(r)));
    const s = this.summary;
    const more = shown.length < applicable.length ? `; ${applicable.length - shown.length} more columns (scales, timings): .table("all")` : "";
    return new SortableTable(shown.map((c) => c.column), rows, `${this.title}: ${s.tensors} tensors, ${(s.elements / 1e6).toFixed(2)} M values, ` +
      `SQNR min ${s.minSqnrDb.toFixed(2)} dB / mean ${s.meanSqnrDb.toFixed(2)} dB, ${s.seconds.toFixed(3)} s (${s.gbPerSecond.toFixed(2)} GB/s of input)${more}`);
  }

  toString(columns: ReportColumns = "summary"): string {
    return this.table(columns).toString();
  }

  toHtml(columns: ReportColumns = "summary"): string {
    return this.table(columns).toHtml();
  }

  [Symbol.for("Jupyter.display")](): Record<string, string> {
    const t = this.table();
    return { "text/html": t.toHtml(), "text/plain": t.toString() };
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}
