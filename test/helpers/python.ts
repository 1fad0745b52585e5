/** The project's Python venv (golden data only): runs a script, JSON in on stdin, JSON out on stdout. */
import { spawnSync } from "child_process";
import * as fs from "fs";

export const PYTHON = process.env.NEMOTRON_LAB_PYTHON ?? "/work/venv/bin/python";

export function hasPythonModule(mod: string): boolean {
  if (!fs.existsSync(PYTHON)) return false;
  return spawnSync(PYTHON, ["-c", `import ${mod}`], { stdio: "ignore" }).status === 0;
}

/** Says loudly, once per file, that a comparison is skipped. */
export function warnSkip(what: string, why: string): void {
  console.warn(`\n*** SKIPPED: ${what} — ${why} ***\n`);
}

export function runPython(script: string, input: unknown): any {
  const r = spawnSync(PYTHON, ["-c", script], { input: JSON.stringify(input), encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}
