#!/usr/bin/env node
/** The nemotron-lab command: dispatches to one module per subcommand. */
import { UsageError } from "./args";
import { CheckpointError } from "../io/errors";

const USAGE = `nemotron-lab — explore NVIDIA Nemotron-H checkpoints

usage:
  nemotron-lab start                        make the bundled tiny model if missing, print its inventory and FP8 error
  nemotron-lab inspect PATH [--tensor NAME-or-glob] [--json]
  nemotron-lab make-tiny DIR [--pattern P] [--dtype f32|bf16|f8e4m3] [--seed N]
  nemotron-lab logits CKPT --ids 1,2,3 [--out FILE.npy] [--max-tokens N] [--dt-clamp none|hf] [--top K]
  nemotron-lab activations CKPT (--ids 1,2,3 | --prompt TEXT) --hooks GLOB[,GLOB...] --out DIR [--max-mib N]
  nemotron-lab generate CKPT (--prompt TEXT | --ids 1,2,3) [--chat] [--system TEXT] [--no-think]
      [--max-tokens N] [--ignore-eos] [--temperature T] [--top-p P] [--top-k K] [--min-p P]
      [--repetition-penalty R] [--seed S] [--stop TEXT]... [--max-context N] [--json]
  nemotron-lab eval-ppl CKPT --text FILE [--stride N] [--max-tokens N] [--limit N] [--dt-clamp none|hf] [--json]
  nemotron-lab kernel install [--user | --sys-prefix | --prefix DIR]   install the Jupyter kernelspec
  nemotron-lab kernel --connection-file FILE                             run the kernel (what Jupyter starts)
  nemotron-lab quantize CKPT [--layers SELECTOR] [--format e4m3|e5m2] [--granularity tensor|channel|block]
                            [--block-size N] [--pad] [--scale amax|percentile:99.99|search[:STEPS[:MINRATIO]]] [--force]
                            [--out DIR --export compressed-tensors|modelopt [--input-scale S | --calibrate TEXT-or-IDS]...]
                            [--report report.html]

PATH is a checkpoint folder, a .safetensors file, or a Hugging Face repo id in the local cache.
SELECTOR: comma-separated terms, '!' excludes, '&' intersects: presets all-linear, nvidia-fp8 (default);
kinds mamba, attention, mlp, moe, lm_head; layers:0-9+40; tensor path globs (backbone.layers.*.mixer.in_proj).
Example: --layers "mamba&layers:0-9,mlp,!*.down_proj"`;

/** A subcommand; it may resolve with an exit status. */
type Command = (argv: string[]) => Promise<void | number> | void | number;

const COMMANDS: Record<string, () => Command> = {
  start: () => require("./start").startCommand,
  inspect: () => require("./inspect").inspectCommand,
  "make-tiny": () => require("./make-tiny").makeTinyCommand,
  quantize: () => require("./quantize").quantizeCommand,
  logits: () => require("./logits").logitsCommand,
  generate: () => require("./generate").generateCommand,
  activations: () => require("./activations").activationsCommand,
  "eval-ppl": () => require("./eval-ppl").evalPplCommand,
  kernel: () => require("../../kernel/main").kernelCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "--help" || cmd === "-h" || cmd === "help") {
    console.log(USAGE);
    return cmd ? 0 : 2;
  }
  const load = COMMANDS[cmd];
  if (!load) {
    console.error(`nemotron-lab: unknown command '${cmd}'\n\n${USAGE}`);
    return 2;
  }
  try {
    const code = await load()(rest);
    return typeof code === "number" ? code : 0;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`nemotron-lab ${cmd}: ${e.message}\n(nemotron-lab --help lists the commands and their flags)`);
      return 2;
    }
    if (e instanceof CheckpointError || e instanceof RangeError) {  // bad input: the message says what and where
      console.error(`nemotron-lab ${cmd}: ${e.message}`);
      return 1;
    }
    if ((e as Error).name === "AbortError") {
      console.error(`nemotron-lab ${cmd}: interrupted`);
      return 130;
    }
    console.error(`nemotron-lab ${cmd}: ${(e as Error).stack ?? e}`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
