/**
 * llama.cpp as a same-run peer of the model benchmark, when the user points at a build:
 *   NEMOTRON_LAB_LLAMA_CPP=/path/to/llama.cpp/build (a folder with bin/llama-bench or llama-bench)
 *   NEMOTRON_LAB_LLAMA_GGUF_BF16 / NEMOTRON_LAB_LLAMA_GGUF_Q8_0: GGUFs of the bench checkpoint,
 *   or, without them, the bench checkpoint is converted with llama.cpp's own convert_hf_to_gguf.py
 *   (found beside the build, or NEMOTRON_LAB_LLAMA_CPP_SRC) through bench/llama_cpp_convert.py.
 * Nothing of llama.cpp is part of this repository; without a build the bench prints our
 * figures against the read roofline alone.
 */
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import { pythonWith, row } from "./common";

export interface PeerRates { decode: number; prefill: Map<number, number> }

/** llama-bench of the build named by NEMOTRON_LAB_LLAMA_CPP, or undefined (with a line saying why). */
export function llamaBench(): string | undefined {
  const root = process.env.NEMOTRON_LAB_LLAMA_CPP;
  if (!root) { row("llama.cpp peer", "skipped", "(set NEMOTRON_LAB_LLAMA_CPP to a llama.cpp build folder)"); return undefined; }
  const bin = [path.join(root, "bin", "llama-bench"), path.join(root, "llama-bench"), path.join(root, "build", "bin", "llama-bench")]
    .find((p) => fs.existsSync(p));
  if (!bin) row("llama.cpp peer", "skipped", `(no llama-bench under ${root}: build it with cmake --build BUILD --target llama-bench)`);
  return bin;
}

function converterScript(bench: string): string | undefined {
  const src = process.env.NEMOTRON_LAB_LLAMA_CPP_SRC;
  const dirs = src ? [src] : [];
  for (let d = path.dirname(bench), i = 0; i < 4; i++, d = path.dirname(d)) dirs.push(d);
  return dirs.map((d) => path.join(d, "convert_hf_to_gguf.py")).find((p) => fs.existsSync(p));
}

/**
 * A GGUF of checkpoint `dir` in llama.cpp type `outtype` (bf16 or q8_0): the one the user gave
 * (NEMOTRON_LAB_LLAMA_GGUF_BF16 / _Q8_0), else a conversion into `work`; undefined if neither.
 */
export function ggufFor(bench: string, dir: string, outtype: "bf16" | "q8_0", work: string): string | undefined {
  const given = process.env[`NEMOTRON_LAB_LLAMA_GGUF_${outtype.toUpperCase()}`];
  if (given) return given;
  const conv = converterScript(bench);
  const py = pythonWith(["torch", "numpy"]);
  if (!conv || !py) {
    row(`llama.cpp ${outtype} GGUF`, "skipped", conv ? "(no python with torch + numpy: set NEMOTRON_LAB_PYTHON)" : "(no convert_hf_to_gguf.py beside the build: set NEMOTRON_LAB_LLAMA_CPP_SRC)");
    return undefined;
  }
  const out = path.join(work, `bench-${outtype}.gguf`);
  const script = path.join(__dirname, "..", "..", "bench", "llama_cpp_convert.py");
  const r = spawnSync(py, [script, conv, dir, "--outtype", outtype, "--outfile", out], { encoding: "utf8", timeout: 600_000 });
  if (r.status !== 0 || !fs.existsSync(out)) {
    row(`llama.cpp ${outtype} GGUF`, "failed", `(${(r.stderr || r.stdout).trim().split("\n").pop()})`);
    return undefined;
  }
  return out;
}

/**
 * llama-bench on `gguf` with `threads`: decode `decode` tokens from an empty context and
 * prefill of each length in `prompts`, the fastest of `reps` samples each (as our figures).
 */
export function llamaRates(bench: string, gguf: string, threads: number, prompts: number[], decode: number, reps = 3): PeerRates | undefined {
  const r = spawnSync(bench, ["-m", gguf, "-t", String(threads), "-p", prompts.join(","), "-n", String(decode), "-r", String(reps), "-o", "json"],
    { encoding: "utf8", timeout: 900_000 });
  try {
    const tests = JSON.parse(r.stdout) as { n_prompt: number; n_gen: number; samples_ts: number[]; avg_ts: number }[];
    const best = (t: (typeof tests)[number]) => Math.max(...(t.samples_ts ?? [t.avg_ts]));
    const gen = tests.find((t) => t.n_gen > 0 && t.n_prompt === 0);
    if (!gen) throw new Error("no decode result in llama-bench's output");
    return { decode: best(gen), prefill: new Map(tests.filter((t) => t.n_gen === 0).map((t) => [t.n_prompt, best(t)])) };
  } catch (e) {
    row("llama.cpp peer", "failed", `(${(e as Error).message}; ${r.stderr.trim().split("\n").pop()})`);
    return undefined;
  }
}
