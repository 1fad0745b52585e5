/**
 * The project's Python venv (golden data and parity checks only), made by `bash tools/python-env.sh`
 * at .venv/ in the repo (NEMOTRON_LAB_PYTHON overrides): runs a script, JSON in on stdin, JSON out.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

export const PYTHON = process.env.NEMOTRON_LAB_PYTHON ?? path.join(__dirname, "..", "..", ".venv", "bin", "python");

/** Why a Python-side check is skipped, naming the script that makes the venv. */
export function noVenvReason(mod: string): string {
  return `${PYTHON} cannot import \`${mod}\`; run \`bash tools/python-env.sh\` to make the venv`;
}

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
