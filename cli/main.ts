#!/usr/bin/env node
/**
 * The nemotron-lab command: dispatches to one module per subcommand (each exports its
 * `command`, usage and example included; add a module and a line in COMMANDS for a new one).
 * Errors: a user's mistake (util/errors.ts: isUserError) prints its message and exits 1
 * (a wrong command line: 2); anything else is a bug and prints its stack with a request to report it.
 */
import { Command, helpText } from "./command";
import { HelpRequested, UsageError } from "./args";
import { isUserError } from "../src/util/errors";

const COMMANDS: Record<string, () => Command> = {
  start: () => require("./start").command,
  run: () => require("./run").command,
  inspect: () => require("./inspect").command,
  "make-tiny": () => require("./make-tiny").command,
  logits: () => require("./logits").command,
  generate: () => require("./generate").command,
  quantize: () => require("./quantize").command,
  "eval-ppl": () => require("./eval-ppl").command,
  activations: () => require("./activations").command,
  kernel: () => require("./kernel").command,
};

/** The subcommands, in the order `nemotron-lab --help` lists them. */
export function commands(): Command[] {
  return Object.values(COMMANDS).map((load) => load());
}

const SELECTOR_HELP = `PATH / CKPT is a checkpoint folder, a .safetensors file, or a Hugging Face repo id in the local cache.
SELECTOR: comma-separated terms, '!' excludes, '&' intersects: presets all-linear, nvidia-fp8 (default);
kinds mamba, attention, mlp, moe, lm_head; layers:0-9+40; tensor path globs (backbone.layers.*.mixer.in_proj).
Example: --layers "mamba&layers:0-9,mlp,!*.down_proj"`;

export function usage(): string {
  const cmds = commands();
  const width = Math.max(...cmds.map((c) => c.name.length));
  return `nemotron-lab — explore NVIDIA Nemotron-H checkpoints

usage: nemotron-lab COMMAND [ARGS] (nemotron-lab COMMAND --help shows its flags and an example)

commands:
${cmds.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n")}

${SELECTOR_HELP}`;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === "--help" || cmd === "-h" || cmd === "help") {
    if (cmd === "help" && rest[0] && COMMANDS[rest[0]]) {
      console.log(helpText(COMMANDS[rest[0]]()));
      return 0;
    }
    (cmd ? console.log : console.error)(usage());
    return cmd ? 0 : 2;
  }
  const load = COMMANDS[cmd];
  if (!load) {
    console.error(`nemotron-lab: unknown command '${cmd}'\n\n${usage()}`);
    return 2;
  }
  const command = load();
  try {
    const code = await command.run(rest);
    return typeof code === "number" ? code : 0;
  } catch (e) {
    return reportError(command, e);
  }
}

/** Prints what went wrong, once, and returns the exit status. */
export function reportError(command: Command, e: unknown): number {
  const name = `nemotron-lab ${command.name}`;
  if (e instanceof HelpRequested) {
    console.log(helpText(command));
    return 0;
  }
  if (e instanceof UsageError) {
    console.error(`${name}: ${e.message}\n(${name} --help shows its usage)`);
    return 2;
  }
  if ((e as Error)?.name === "AbortError") {
    console.error(`${name}: interrupted`);
    return 130;
  }
  // Expected errors; a bare RangeError is a library argument check not yet marked ArgumentError.
  if (isUserError(e) || (e instanceof RangeError && e.constructor === RangeError && !/call stack/.test(e.message))) {
    console.error(`${name}: ${(e as Error).message}`);
    return 1;
  }
  console.error(`${name}: internal error — this is a bug in nemotron-lab; please report it with the command line and this trace:\n` +
    `${(e as Error)?.stack ?? String(e)}`);
  return 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
