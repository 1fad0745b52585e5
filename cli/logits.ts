/**
 * nemotron-lab logits (usage below, in `command`).
 * The fp32 logits [T, vocab] of the full pass: written as .npy, or summarised (shape, and
 * the top-k ids with their logits per position). Works on any checkpoint of the class,
 * tokenizer files or not.
 */
import { intFlag, parse, UsageError } from "./args";
import { Checkpoint } from "../src/model/checkpoint";
import { NemotronH } from "../src/model/nemotron-h";
import { writeNpy } from "../src/io/npy";
import { native } from "../src/backend/native";
import type { Command } from "./command";

export function parseIds(text: string | undefined): number[] {
  if (text === undefined) throw new UsageError("--ids is required (comma-separated token ids, e.g. --ids 1,2,3)");
  const parts = text.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  if (!parts.length) throw new UsageError("--ids is empty: give at least one token id");
  return parts.map((p) => {
    if (!/^\d+$/.test(p)) throw new UsageError(`--ids: '${p}' is not a non-negative integer token id`);
    return Number(p);
  });
}

export function logitsCommand(argv: string[]): void {
  const { values, positionals } = parse(argv, {
    ids: { type: "string" }, out: { type: "string" }, "max-tokens": { type: "string" },
    "dt-clamp": { type: "string" }, top: { type: "string" },
  }, ["CKPT"]);
  const ids = parseIds(values.ids);
  const max = intFlag("max-tokens", values["max-tokens"]);
  if (max !== undefined && max < 1) throw new UsageError(`--max-tokens must be >= 1, got ${max}`);
  if (max !== undefined && ids.length > max) throw new UsageError(`context of ${ids.length} tokens exceeds --max-tokens ${max}`);
  const clamp = values["dt-clamp"] ?? "none";
  if (clamp !== "none" && clamp !== "hf") throw new UsageError(`--dt-clamp must be none or hf, got '${clamp}'`);
  const top = intFlag("top", values.top, 5)!;
  if (top < 1) throw new UsageError(`--top must be >= 1, got ${top}`);
  const model = NemotronH.load(Checkpoint.open(positionals[0]), { dtClamp: clamp });
  const V = model.vocabSize;
  const bad = ids.findIndex((id) => id >= V);
  if (bad >= 0) throw new UsageError(`--ids: token id ${ids[bad]} at position ${bad} is outside the vocabulary [0, ${V})`);
  const logits = model.logits(ids);
  if (values.out) {
    writeNpy(values.out, logits, [ids.length, V]);
    console.log(`wrote ${values.out}: float32 [${ids.length}, ${V}]`);
    return;
  }
  console.log(`logits: float32 [${ids.length}, ${V}]`);
  const k = Math.min(top, V);
  const vals = new Float32Array(k), idx = new Int32Array(k);
  for (let t = 0; t < ids.length; t++) {
    native().topK(logits.subarray(t * V, (t + 1) * V), k, vals, idx);
    const list = [...idx].map((id, j) => `${id}:${vals[j].toFixed(4)}`).join("  ");
    console.log(`  [${t}] id ${ids[t]} -> top${k} ${list}`);
  }
}

export const command: Command = {
  name: "logits",
  summary: "the fp32 logits of one full forward pass over token ids, as .npy or a top-k summary",
  usage: `nemotron-lab logits CKPT --ids 1,2,3 [--out FILE.npy] [--max-tokens N] [--dt-clamp none|hf] [--top K]

--ids         the prompt's token ids, comma-separated
--out         write the logits [T, vocab] as a float32 .npy instead of printing the top K per position
--max-tokens  refuse a context longer than N
--dt-clamp    none (default, as the HF reference) or hf (clamp dt to time_step_limit)
--top         how many ids to print per position (default 5)`,
  example: `nemotron-lab make-tiny /tmp/tiny && nemotron-lab logits /tmp/tiny --ids 1,2,3 --top 3`,
  run: logitsCommand,
};
