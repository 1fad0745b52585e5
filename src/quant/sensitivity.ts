/**
 * Sensitivity sweep: quantize one tensor, layer or block kind at a time, measure the KL
 * divergence of the next-token distributions against the original on prompts, revert,
 * and rank the groups by KL. The most sensitive groups are the ones to keep in BF16.
 */
import { quantizeTensor, QuantizeOptions, toFp8Tensor } from "../fp8/quantize";
import { abortError } from "../io/writer";
import { progress } from "../util/progress";
import { SortableTable, fixed } from "../viz/table";
import type { QuantizableModel } from "./model";
import { LogitsRecord, distributionShift, recordLogits } from "./compare";
import { modelTensors } from "./session";
import { workSignal } from "../util/cancel";
import { temporarily } from "../util/undo";
import { SelectKind, TensorInfo, selectTensors } from "./selector";

export interface SensitivityOptions extends QuantizeOptions {
  prompts: ArrayLike<number>[];
  /** Which tensors take part (selector; default "all-linear"). */
  layers?: string;
  force?: boolean;
  /** One group per tensor, per layer (all its selected linears), or per block kind. Default "layer". */
  by?: "tensor" | "layer" | "kind";
  /** The original model's logits on the prompts, if already recorded. */
  baseline?: LogitsRecord;
  signal?: AbortSignal;
}

export interface SensitivityRow {
  group: string;
  layer: number;
  kind: SelectKind | "mixed";
  tensors: string[];
  klMean: number;
  klP99: number;
  klMax: number;
  top1Agreement: number;
  /** 1 = most sensitive. */
  rank: number;
}

export class SensitivityResult {
  /** Sorted by KL mean, most sensitive first. */
  constructor(readonly rows: SensitivityRow[], readonly seconds: number) {}

  table(): SortableTable {
    return new SortableTable(
      [{ header: "rank" }, { header: "group" }, { header: "layer" }, { header: "kind" }, { header: "tensors" },
        { header: "KL mean" }, { header: "KL p99" }, { header: "KL max" }, { header: "top-1 agree", format: fixed(4) }],
      this.rows.map((r) => [r.rank, r.group, r.layer, r.kind, r.tensors.length, r.klMean, r.klP99, r.klMax, r.top1Agreement]),
      `sensitivity: ${this.rows.length} groups quantized one at a time, ranked by KL to the original (${this.seconds.toFixed(2)} s)`);
  }

  toString(): string {
    return this.table().toString();
  }

  [Symbol.for("Jupyter.display")](): Record<string, string> {
    const t = this.table();
    return { "text/html": t.toHtml(), "text/plain": t.toString() };
  }
}

export function sensitivitySweep(model: QuantizableModel, options: SensitivityOptions): SensitivityResult {
  const t0 = performance.now();
  const universe = modelTensors(model);
  const names = selectTensors(options.layers ?? "all-linear", universe, { force: options.force });
  const info = new Map(universe.map((t) => [t.name, t]));
  const groups = groupTensors(names.map((n) => info.get(n)!), options.by ?? "layer");
  const signal = workSignal(options.signal);
  const base = options.baseline ?? recordLogits(model, options.prompts, { signal, label: "original model" });
  const bar = progress("sensitivity sweep", groups.length);
  const rows: SensitivityRow[] = [];
  try {
    for (const g of groups) {
      if (signal?.aborted) throw abortError(signal);
      // Journaled before the first swap: an interrupt at any point leaves the original weights.
      temporarily(`sensitivity sweep: ${g.name}`, () => { for (const t of g.tensors) model.restoreWeight(t.name); }, () => {
        for (const t of g.tensors) model.replaceWeight(t.name, toFp8Tensor(quantizeTensor(model.weight(t.name), { ...options, metrics: false })));
        const shift = distributionShift(base, recordLogits(model, options.prompts, { signal, progress: false }));
        const kinds = new Set(g.tensors.map((t) => t.kind));
        rows.push({
          group: g.name, layer: g.tensors[0].layer, kind: kinds.size === 1 ? g.tensors[0].kind : "mixed", tensors: g.tensors.map((t) => t.name),
          klMean: shift.klMean, klP99: shift.klP99, klMax: shift.klMax, top1Agreement: shift.top1Agreement, rank: 0,
        });
      });
      bar.update(rows.length, g.name);
    }
  } finally {
    bar.finish();
  }
  rows.sort((a, b) => b.klMean - a.klMean).forEach((r, i) => (r.rank = i + 1));
  return new SensitivityResult(rows, (performance.now() - t0) / 1000);
}

function groupTensors(ts: TensorInfo[], by: "tensor" | "layer" | "kind"): { name: string; tensors: TensorInfo[] }[] {
  if (by === "tensor") return ts.map((t) => ({ name: t.module, tensors: [t] }));
  const key = (t: TensorInfo) => (by === "kind" ? t.kind : t.layer >= 0 ? `backbone.layers.${t.layer}` : t.module);
  if (by !== "layer" && by !== "kind") throw new RangeError(`by must be "tensor", "layer" or "kind", got ${JSON.stringify(by)}`);
  const m = new Map<string, TensorInfo[]>();
  for (const t of ts) m.set(key(t), [...(m.get(key(t)) ?? []), t]);
  return [...m].map(([name, tensors]) => ({ name, tensors }));
}
