/** Command-line parsing on node:util's parseArgs, with errors that name the flag. */
import { parseArgs } from "util";
import { UserError } from "../src/util/errors";

/** A wrong command line: printed with a pointer to --help, exit status 2. */
export class UsageError extends UserError {
  override name = "UsageError";
}

/** `--help` / `-h` among a command's flags: main.ts prints that command's usage and exits 0. */
export class HelpRequested extends Error {
  override name = "HelpRequested";
}

type Spec = Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>;

export function parse<S extends Spec>(argv: string[], options: S, positionals: string[]) {
  if (argv.includes("--help") || argv.includes("-h")) {
    // Asked for help, even among wrong flags: answer before judging them.
    const probe = parseArgs({ args: argv, options: { ...options, help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: false });
    if (probe.values.help === true) throw new HelpRequested();
  }
  let r;
  try {
    r = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (r.positionals.length < positionals.length) throw new UsageError(`missing ${positionals.slice(r.positionals.length).join(" ")}`);
  return { values: r.values as { [K in keyof S]?: S[K]["type"] extends "boolean" ? boolean : string }, positionals: r.positionals };
}

export function intFlag(name: string, v: string | undefined, fallback?: number): number | undefined {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UsageError(`--${name} must be an integer, got '${v}'`);
  return n;
}

export function numberFlag(name: string, v: string | undefined, fallback?: number): number | undefined {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got '${v}'`);
  return n;
}
