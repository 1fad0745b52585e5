/** nemotron-lab make-tiny DIR [--pattern P] [--dtype f32|bf16|f8e4m3] [--seed N] */
import { parse, intFlag, UsageError } from "./args";
import { makeTiny, TinyDType } from "../tiny/make-tiny";
import { interruptSignal } from "./interrupt";

export async function makeTinyCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, {
    pattern: { type: "string" }, dtype: { type: "string" }, seed: { type: "string" },
  }, ["DIR"]);
  const dtype = (values.dtype ?? "bf16") as TinyDType;
  if (!["f32", "bf16", "f8e4m3"].includes(dtype)) throw new UsageError(`--dtype must be f32, bf16 or f8e4m3, got '${dtype}'`);
  const config = await makeTiny(positionals[0], { pattern: values.pattern, dtype, seed: intFlag("seed", values.seed, 0), signal: interruptSignal() });
  console.log(`wrote ${positionals[0]}: NemotronH ${config.hybrid_override_pattern} (${config.num_hidden_layers} layers, hidden ${config.hidden_size}, vocab ${config.vocab_size}), ${dtype}`);
}
