/** Command-line parsing on node:util's parseArgs, with errors that name the flag. */
import { parseArgs } from "util";

export class UsageError extends Error {
  override readonly name = "UsageError";
}

type Spec = Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }>;

export function parse<S extends Spec>(argv: string[], options: S, positionals: string[]) {
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
