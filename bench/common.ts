/** Benchmark helpers: best-of-N timing, the copy and read bandwidth yardsticks, first-token time in a fresh process, and an optional Python peer. */
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import { native } from "../src/backend/native";

/**
 * Seconds of the fastest of `reps` runs (after one warm-up); `setup`, untimed, makes each
 * run's input (e.g. a fresh model state, as llama-bench reuses its context).
 */
export function bestSeconds<S = void>(fn: (input: S) => void, reps = 5, setup?: () => S): number {
  const input = () => (setup ? setup() : (undefined as S));
  fn(input());
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const s = input();
    const t = process.hrtime.bigint();
    fn(s);
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

/**
 * Seconds to open `dir` and run one token in a fresh node process (every weight page mapped
 * for the first time there): with the checkpoint read-ahead off, on, or on and finished first.
 */
export function firstToken(dir: string, readAhead: "off" | "on" | "finished"): { open: number; wait: number; token: number } {
  const index = path.join(__dirname, "..", "src", "index.js");
  const code = `const {NemotronH}=require(${JSON.stringify(index)});const now=()=>Number(process.hrtime.bigint())/1e9;` +
    `(async()=>{const t0=now();const m=NemotronH.load(${JSON.stringify(dir)},{readAhead:${readAhead !== "off"}});const t1=now();` +
    (readAhead === "finished" ? `const ra=m.checkpoint.readAhead();while(ra.progress()<1)await new Promise(r=>setTimeout(r,5));` : "") +
    `const t2=now();m.forward([1],m.newState(),{lastOnly:true});const t3=now();` +
    `console.log(JSON.stringify({open:t1-t0,wait:t2-t1,token:t3-t2}));})();`;
  const out = spawnSync(process.execPath, ["-e", code], { encoding: "utf8" });
  if (out.status !== 0) throw new Error(out.stderr);
  return JSON.parse(out.stdout.trim().split("\n").pop()!);
}

/** The three firstToken rows (fresh processes), each beside the time to read the files at the machine's read bandwidth. */
export function printFirstToken(dir: string, fileBytes: number): void {
  const roof = fileBytes / (readBandwidth().threaded * 1e9);
  for (const mode of ["off", "on", "finished"] as const) {
    const f = firstToken(dir, mode);
    const what = mode === "off" ? "read-ahead off" : mode === "on" ? "read-ahead on" : "after read-ahead";
    const total = f.open + f.wait + f.token;
    row(`open + first token, ${what}`, `${total.toFixed(2)} s`,
      `open ${f.open.toFixed(2)} s${mode === "finished" ? `, read-ahead ${f.wait.toFixed(2)} s` : ""}, first token ${f.token.toFixed(2)} s; ` +
      `${(roof / total * 100).toFixed(0)}% of reading ${(fileBytes / 1e9).toFixed(2)} GB at the read bandwidth (${roof.toFixed(2)} s)`);
  }
}
