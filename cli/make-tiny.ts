/** nemotron-lab make-tiny: writes a random NemotronH checkpoint with the real schema. */
import { parse, intFlag, UsageError } from "./args";
import { makeTiny, TinyDType } from "../src/tiny/make-tiny";
import { interruptSignal } from "./interrupt";
import type { Command } from "./command";

export async function makeTinyCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    pattern: { type: "string" }, dtype: { type: "string" }, seed: { type: "string" },
  }, ["DIR"]);
  const dtype = (values.dtype ?? "bf16") as TinyDType;
  if (!["f32", "bf16", "f8e4m3"].includes(dtype)) throw new UsageError(`--dtype must be f32, bf16 or f8e4m3, got '${dtype}'`);
  const config = await makeTiny(positionals[0], { pattern: values.pattern, dtype, seed: intFlag("seed", values.seed, 0), signal: interruptSignal() });
  console.log(`wrote ${positionals[0]}: NemotronH ${config.hybrid_override_pattern} (${config.num_hidden_layers} layers, hidden ${config.hidden_size}, vocab ${config.vocab_size}), ${dtype}`);
}

export const command: Command = {
  name: "make-tiny",
  summary: "write a small random NemotronH checkpoint with the real config.json schema and tensor names",
  usage: `nemotron-lab make-tiny DIR [--pattern P] [--dtype f32|bf16|f8e4m3] [--seed N]

--pattern  the hybrid_override_pattern, one letter per layer: M Mamba-2, * attention, - MLP, E MoE
--dtype    stored weight dtype (default bf16; f8e4m3 stores the linear weights in FP8 with scales)
--seed     the random seed (default 0): the same seed writes the same bytes`,
  example: `nemotron-lab make-tiny /tmp/tiny --pattern "M-M*-" --dtype f8e4m3 --seed 1`,
  run: makeTinyCommand,
};
