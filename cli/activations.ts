/**
 * nemotron-lab activations CKPT (--ids 1,2,3 | --prompt TEXT) --hooks GLOB[,GLOB...] --out DIR [--max-mib N]
 * Records the named hook points of one full pass (names and globs as in model.hookPoints(),
 * `logits` included) and writes DIR/<hook>.npy (float32, the table's shapes) and
 * DIR/index.json (hook -> shape), for taking activations to Python. A selection over the
 * memory bound is refused with the size it would need.
 */
import * as fs from "fs";
import * as path from "path";
import { intFlag, parse, UsageError } from "./args";
import { parseIds } from "./logits";
import { Checkpoint } from "../src/model/checkpoint";
import { NemotronH } from "../src/model/nemotron-h";
import { writeNpy } from "../src/io/npy";
import type { Command } from "./command";

export function activationsCommand(argv: string[]): void {
  const { values, positionals } = parse(argv, {
    ids: { type: "string" }, prompt: { type: "string" }, hooks: { type: "string" }, out: { type: "string" },
    "max-mib": { type: "string" },
  }, ["CKPT"]);
  if ((values.prompt === undefined) === (values.ids === undefined)) throw new UsageError("give exactly one of --prompt TEXT or --ids 1,2,3");
  if (!values.hooks) throw new UsageError("--hooks is required (hook names or globs, e.g. --hooks 'backbone.layers.*.mixer.dt,logits')");
  if (!values.out) throw new UsageError("--out DIR is required");
  const maxMib = intFlag("max-mib", values["max-mib"], 2048)!;
  if (maxMib < 1) throw new UsageError(`--max-mib must be >= 1, got ${maxMib}`);
  const model = NemotronH.load(Checkpoint.open(positionals[0]));
  const input = values.ids !== undefined ? parseIds(values.ids) : values.prompt!;
  const names = values.hooks.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  let cache;
  try {
    cache = model.runWithCache(input, { names, maxBytes: maxMib * 2 ** 20 });
  } catch (e) {
    const msg = (e as Error).message;
    if (/unknown hook|needs [\d.]+ MiB|O\(T²\)|outside the vocabulary/.test(msg)) throw new UsageError(msg.replace("options.maxBytes", "--max-mib"));
    throw e;
  }
  fs.mkdirSync(values.out, { recursive: true });
  const index: Record<string, number[]> = {};
  for (const name of cache.names()) {
    const t = cache.get(name);
    writeNpy(path.join(values.out, `${name}.npy`), t.values(), [...t.shape]);
    index[name] = [...t.shape];
  }
  fs.writeFileSync(path.join(values.out, "index.json"), JSON.stringify({ tokens: cache.tokens, hooks: index }, null, 1) + "\n");
  console.log(`wrote ${cache.size} activations of ${cache.tokens} tokens to ${values.out} (index.json lists their shapes)`);
}

export const command: Command = {
  name: "activations",
  summary: "record hook points of one full pass (names or globs) as .npy files plus index.json",
  usage: `nemotron-lab activations CKPT (--ids 1,2,3 | --prompt TEXT) --hooks GLOB[,GLOB...] --out DIR [--max-mib N]

--hooks    hook names or globs (model.hookPoints(); logits included), e.g. 'backbone.layers.*.mixer.dt,logits'
--out      the folder for <hook>.npy (float32) and index.json (hook -> shape)
--max-mib  refuse a selection needing more memory than this (default 2048)`,
  example: "nemotron-lab activations models/nano-fortunes --prompt 'Hello' --hooks 'backbone.layers.*.mixer.dt' --out acts",
  run: activationsCommand,
};
