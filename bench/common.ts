/** Benchmark helpers: best-of-N timing, the copy and read bandwidth yardsticks, and an optional Python peer. */
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import { native } from "../src/backend/native";

/** Seconds of the fastest of `reps` runs (after one warm-up). */
export function bestSeconds(fn: () => void, reps = 5): number {
  fn();
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t = process.hrtime.bigint();
    fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t) / 1e9);
  }
  return best;
}

/** GB/s read by a multi-threaded memcpy of `bytes` (larger than the caches). */
export function copyBandwidth(bytes = 256 * 2 ** 20): number {
  const src = new Uint8Array(bytes).fill(1), dst = new Uint8Array(bytes);
  return bytes / bestSeconds(() => native().copyBytes(src, dst)) / 1e9;
}

/**
 * GB/s of a multi-threaded sequential read of `bytes` (native readSum: a sum of 64-bit words,
 * nothing written), the limit of decoding, which reads every weight once per token; beside it
 * the plain single-threaded loop (the reference), whose sum must be the same.
 */
export function readBandwidth(bytes = 512 * 2 ** 20): { threaded: number; plain: number } {
  const src = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 4096) src[i] = (i >>> 12) & 255;  // touch every page, vary the sum
  const addon = native();
  const fast = addon.readSum(src), ref = addon.readSum(src, true);
  if (fast !== ref) throw new Error(`readSum: threaded ${fast} != plain ${ref}`);
  return { threaded: bytes / bestSeconds(() => addon.readSum(src)) / 1e9, plain: bytes / bestSeconds(() => addon.readSum(src, true), 2) / 1e9 };
}

export function row(label: string, value: string, note = ""): void {
  console.log(`  ${label.padEnd(44)} ${value.padStart(14)}  ${note}`);
}

export function gbps(bytes: number, seconds: number): string {
  return `${(bytes / seconds / 1e9).toFixed(2)} GB/s`;
}

/**
 * A Python that imports the given modules (NEMOTRON_LAB_PYTHON, then the repository's .venv made
 * by tools/python-env.sh, then python3), or undefined.
 */
export function pythonWith(modules: string[]): string | undefined {
  const venv = path.join(__dirname, "..", "..", ".venv", "bin", "python");
  for (const py of [process.env.NEMOTRON_LAB_PYTHON, fs.existsSync(venv) ? venv : undefined, "python3"].filter(Boolean) as string[]) {
    const r = spawnSync(py, ["-c", `import ${modules.join(", ")}`], { stdio: "ignore" });
    if (r.status === 0) return py;
  }
  return undefined;
}

/** Runs a Python snippet that prints one JSON object on its last line. */
export function runPython(py: string, code: string, env: NodeJS.ProcessEnv = {}): Record<string, number> | undefined {
  const r = spawnSync(py, ["-c", code], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 600_000 });
  if (r.status !== 0) {
    console.log(`  (python peer failed: ${r.stderr.trim().split("\n").pop()})`);
    return undefined;
  }
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}
