/** nemotron-lab inspect: a checkpoint's inventory, or one tensor's (or a glob's) statistics. */
import { parse, UsageError } from "./args";
import { Checkpoint } from "../src/model/checkpoint";
import { inventory, inventoryText } from "../src/model/inventory";
import type { Command } from "./command";
import { formatBytes, formatShape, textTable } from "../src/util/format";

const PERCENTILES = [0.1, 1, 50, 99, 99.9];

export function inspectCommand(argv: string[]): void {
  const { values, positionals } = parse(argv, { tensor: { type: "string" }, json: { type: "boolean" } }, ["PATH"]);
  const ckpt = Checkpoint.open(positionals[0]);
  if (!values.tensor) {
    const inv = inventory(ckpt);
    if (values.json) {
      console.log(JSON.stringify({ path: ckpt.dir, files: ckpt.files, config: ckpt.config?.raw, inventory: inv }, jsonSafe, 2));
    } else {
      console.log(`${ckpt.dir} (${ckpt.files.length} file${ckpt.files.length > 1 ? "s" : ""})`);
      if (ckpt.config) console.log(`NemotronH ${ckpt.config.hybrid_override_pattern}\n`);
      console.log(inventoryText(inv));
    }
    return;
  }
  const tensors = ckpt.tensors.has(values.tensor) ? [ckpt.tensor(values.tensor)] : ckpt.find(values.tensor);
  if (!tensors.length) {
    throw new UsageError(`no tensor matches '${values.tensor}' in ${ckpt.dir}; e.g. ${ckpt.names().slice(0, 4).join(", ")}`);
  }
  const report = tensors.map((t) => ({
    name: t.name, dtype: t.dtype, shape: t.shape, bytes: t.nbytes,
    scale: t.scale ? { tensor: t.scale.tensor.name, granularity: t.scale.granularity, block: [t.scale.blockRows, t.scale.blockCols] } : undefined,
    stats: t.stats({ percentiles: PERCENTILES }),
  }));
  if (values.json) {
    console.log(JSON.stringify(report, jsonSafe, 2));
    return;
  }
  const g = (x: number) => (Number.isFinite(x) ? x.toPrecision(5) : String(x));
  console.log(textTable(
    ["tensor", "dtype", "shape", "bytes", "min", "max", "mean", "std", "absmax", "p1", "p50", "p99", "zeros", "nan/inf"],
    report.map((r) => [r.name + (r.scale ? ` (scale ${r.scale.granularity})` : ""), r.dtype, formatShape(r.shape), formatBytes(r.bytes),
      g(r.stats.min), g(r.stats.max), g(r.stats.mean), g(r.stats.std), g(r.stats.absmax),
      g(r.stats.percentiles!["1"]), g(r.stats.percentiles!["50"]), g(r.stats.percentiles!["99"]),
      r.stats.zeros, `${r.stats.nan}/${r.stats.posInf + r.stats.negInf}`])));
}

/** JSON has no Infinity/NaN: write them as strings rather than null. */
export function jsonSafe(_k: string, v: unknown): unknown {
  return typeof v === "number" && !Number.isFinite(v) ? String(v) : v;
}

export const command: Command = {
  name: "inspect",
  summary: "a checkpoint's inventory (blocks, tensors, dtypes, sizes), or statistics of chosen tensors",
  usage: `nemotron-lab inspect PATH [--tensor NAME-or-glob] [--json]

--tensor  a tensor path or glob (backbone.layers.*.mixer.in_proj): dtype, shape, scale, min/max/mean/std, percentiles
--json    print JSON instead of a table`,
  example: `nemotron-lab make-tiny /tmp/tiny && nemotron-lab inspect /tmp/tiny --tensor "backbone.layers.0.mixer.*"`,
  run: inspectCommand,
};
