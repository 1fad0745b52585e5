/** Benchmark helpers: best-of-N timing, the copy-bandwidth yardstick, and an optional Python peer. */
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

export function row(label: string, value: string, note = ""): void {
  console.log(`  ${label.padEnd(44)} ${value.padStart(14)}  ${note}`);
}

export function gbps(bytes: number, seconds: number): string {
  return `${(bytes / seconds / 1e9).toFixed(2)} GB/s`;
}

/** A Python that imports the given modules (NEMOTRON_LAB_PYTHON, then python3), or undefined. */
export function pythonWith(modules: string[]): string | undefined {
  for (const py of [process.env.NEMOTRON_LAB_PYTHON, "python3"].filter(Boolean) as string[]) {
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
