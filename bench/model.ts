/**
 * Model benchmarks: decode and prefill tokens/s of NemotronH on a 45M-parameter checkpoint
 * made by makeTiny (hidden 512, M-M-M-MM-M-M-M*-M-, 16 Mamba heads of 64, 8 groups, state
 * 64, 8/2 attention heads of 64, intermediate 2048, vocab 8192) in BF16 and FP8 E4M3, each
 * beside its bandwidth roofline measured in the same run (weight bytes read per decoded
 * token ÷ the machine's multi-threaded sequential read bandwidth, bench/common.ts readBandwidth), HF transformers on the same checkpoint when a Python with
 * torch + transformers is present (test/fixtures/hf_bench.py), and the resident memory of
 * a larger FP8 checkpoint after one token against its file size. A decode breakdown replays
 * one token's ops through the per-op bindings (same shapes, the model's own weights, in model
 * order) and prints the time per op type beside the measured decode step; what is left is
 * spent outside the kernels (JS -> native call, buffers, the state).
 *
 * NEMOTRON_LAB_BENCH_BACKENDS=cpu,cuda (default cpu) also times the other backends on the
 * same checkpoints, each printed beside the cpu figure of the same run (native/dev/cuda-check.sh);
 * NEMOTRON_LAB_BENCH_NO_HF=1 leaves out the HF transformers peer. Decode and prefill (128 and
 * 512 tokens) run with 1, 2 and all threads, each beside the read roofline at that thread count
 * and, when NEMOTRON_LAB_LLAMA_CPP names a llama.cpp build, llama.cpp's figure on the same
 * checkpoint converted to GGUF (bench/llama-cpp.ts). Each timed run gets its state made
 * beforehand, untimed, as llama-bench reuses its context: on this project's VMs fresh memory
 * faults in slowly (~0.3 GB/s), and a new state is ~5% of a 45M prefill.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";
import { BackendName, native } from "../src/backend/native";
import { availableBackends, cudaUnavailable } from "../src/backend/select";
import { NemotronH } from "../src/model/nemotron-h";
import { dtypeCode } from "../src/tensor/dtype";
import { makeTiny, TinyDType } from "../src/tiny/make-tiny";
import { bestSeconds, copyBandwidth, printFirstToken, pythonWith, readBandwidth, row } from "./common";
import { ggufFor, llamaBench, llamaRates } from "./llama-cpp";

export const BENCH_CONFIG = {
  vocab_size: 8192, hidden_size: 512, num_attention_heads: 8, num_key_value_heads: 2, head_dim: 64,
  intermediate_size: 2048, mamba_num_heads: 16, mamba_head_dim: 64, ssm_state_size: 64, n_groups: 8,
  conv_kernel: 4, chunk_size: 128,
};
export const PATTERN = "M-M-M-MM-M-M-M*-M-";
const PROMPT = 128;
const PROMPTS = [128, 512];  // prefill lengths timed
const DECODE = 64;

/** Bytes of weights one decoded token reads: every bound tensor once, one embedding row. */
export function weightBytesPerToken(m: NemotronH): number {
  let bytes = 0;
  for (const name of new Set(m.plan.map((s) => s.name))) {
    const t = m.weight(name);
    bytes += name.endsWith("embeddings.weight") ? t.nbytes / t.rows : t.nbytes;
  }
  if (m.config.tie_word_embeddings) bytes += m.weight("backbone.embeddings.weight").nbytes;
  return bytes;
}

function ids(n: number, vocab: number, seed: number): number[] {
  return Array.from({ length: n }, (_, i) => (i * 7919 + seed * 104729) % vocab);
}

/** Decode tok/s (DECODE tokens after a 16-token prompt) and prefill tok/s of each of PROMPTS, best of 3 each. */
function measure(m: NemotronH): { decode: number; prefill: number; prefills: Map<number, number> } {
  m.forward(ids(2, m.vocabSize, 1), m.newState(), { lastOnly: true });  // warm-up (a device backend uploads weights here)
  const prefills = new Map<number, number>();
  for (const n of PROMPTS) {
    const prompt = ids(n, m.vocabSize, 1);
    prefills.set(n, n / bestSeconds((st) => m.forward(prompt, st, { lastOnly: true }), 3, () => m.newState()));
  }
  const prompt = ids(PROMPT, m.vocabSize, 1);
  const st = m.newState();
  m.forward(prompt.slice(0, 16), st, { lastOnly: true });
  const base = st.clone();
  const next = ids(DECODE, m.vocabSize, 2);
  const decodeS = bestSeconds((s) => {
    for (const id of next) m.forward([id], s, { lastOnly: true });
  }, 3, () => base.clone());
  return { prefill: prefills.get(PROMPT)!, prefills, decode: DECODE / decodeS };
}

/**
 * Milliseconds per decoded token by op type: each op of one decode step called through its
 * own binding (the model's weights and shapes, in model order, so weights stream from
 * memory as in the model), averaged over `tokens` replays, the fastest of three.
 */
function decodeBreakdown(m: NemotronH, past: number, tokens = 16): Map<string, number> {
  const nat = native(), c = m.config as unknown as Record<string, number>;
  const H = c.hidden_size, nh = c.mamba_num_heads, P = c.mamba_head_dim, G = c.n_groups, N = c.ssm_state_size;
  const di = nh * P, convDim = di + 2 * G * N, inOut = di + convDim + nh, K = c.conv_kernel;
  const nq = c.num_attention_heads, nkv = c.num_key_value_heads, hd = c.head_dim;
  const f = (n: number, v = 0.01) => new Float32Array(n).fill(v);
  let times = new Map<string, number>();
  const timed = (op: string, fn: () => void) => {
    const t = process.hrtime.bigint();
    fn();
    times.set(op, (times.get(op) ?? 0) + Number(process.hrtime.bigint() - t) / 1e6 / tokens);
  };
  const linear = (name: string, x: Float32Array, y: Float32Array) => {
    const t = m.weight(name), bytes = t.bytes(), code = dtypeCode(t.dtype), scale = t.scaleValues() ?? null;
    const br = t.scale?.blockRows ?? 1, bc = t.scale?.blockCols ?? 1;
    timed("linear", () => nat.opLinear(x, 1, bytes, code, t.rows, t.cols, scale, br, bc, null, y, false));
  };
  const layers = [...new Set(m.plan.map((s) => s.layer))].filter((l) => l >= 0).sort((a, b) => a - b);
  const names = new Set(m.plan.map((s) => s.name));
  const h = f(H), x = f(H), y = f(H), nw = f(H, 1), gw = f(di, 1), zx = f(inOut), xbc = f(convDim), dt = f(nh), ys = f(di);
  const convW = f(convDim * K), convState = f((K - 1) * convDim), A = f(nh, -1), D = f(nh, 1), ssm = f(nh * P * N);
  const q = f(nq * hd), o = f(nq * hd), kc = f((past + 1) * nkv * hd), vc = f((past + 1) * nkv * hd), up = f(c.intermediate_size);
  const logits = f(m.vocabSize);
  // The fastest of three whole replays (the machine may be shared; a per-op minimum would
  // flatter the sum).
  let best = new Map<string, number>(), bestSum = Infinity;
  for (let rep = 0; rep < 3; rep++, times = new Map()) {
    for (let tok = 0; tok < tokens; tok++) {
      for (const l of layers) {
        const p = `backbone.layers.${l}.mixer`;
        timed("rmsnorm", () => nat.opRmsnorm(h, 1, H, nw, 1e-5, x, false));
        if (names.has(`${p}.in_proj.weight`)) {
          linear(`${p}.in_proj.weight`, x, zx);
          timed("conv1d + silu", () => nat.opConv1dSilu(zx, 1, convDim, K, convW, null, convState, xbc, false));
          timed("dt softplus", () => nat.opDtSoftplus(dt, 1, nh, dt, 0, 1e9, dt, false));
          timed("ssm step", () => nat.opSsm(xbc, xbc, xbc, dt, A, D, Float64Array.from([1, nh, P, G, N, 128]), ssm, ys, "step"));
          timed("gated rmsnorm", () => nat.opGatedRmsnorm(ys, zx, inOut, 1, di, di / G, gw, 1e-5, ys, false));
          linear(`${p}.out_proj.weight`, ys, y);
        } else if (names.has(`${p}.q_proj.weight`)) {
          linear(`${p}.q_proj.weight`, x, q);
          linear(`${p}.k_proj.weight`, x, kc.subarray(past * nkv * hd));
          linear(`${p}.v_proj.weight`, x, vc.subarray(past * nkv * hd));
          timed("attention", () => nat.opAttention(q, kc, vc, Float64Array.from([1, past, nq, nkv, hd]), 0.125, o, false));
          linear(`${p}.o_proj.weight`, o, y);
        } else {
          linear(`${p}.up_proj.weight`, x, up);
          timed("relu2", () => nat.opRelu2(up, false));
          linear(`${p}.down_proj.weight`, up, y);
        }
      }
      timed("rmsnorm", () => nat.opRmsnorm(h, 1, H, nw, 1e-5, x, false));
      linear(m.config.tie_word_embeddings ? "backbone.embeddings.weight" : "lm_head.weight", x, logits);
    }
    const sum = [...times.values()].reduce((x, y) => x + y, 0);
    if (sum < bestSum) { bestSum = sum; best = times; }
  }
  return best;
}

function printBreakdown(times: Map<string, number>, stepMs: number): void {
  const sum = [...times.values()].reduce((a, b) => a + b, 0);
  console.log(`     decode step ${stepMs.toFixed(3)} ms/token, by op (each op alone through its binding):`);
  for (const [op, ms] of [...times.entries()].sort((a, b) => b[1] - a[1]))
    console.log(`       ${op.padEnd(16)} ${ms.toFixed(3).padStart(7)} ms  ${((ms / stepMs) * 100).toFixed(0).padStart(3)}%`);
  const rest = stepMs - sum;
  console.log(`       ${"outside kernels".padEnd(16)} ${rest.toFixed(3).padStart(7)} ms  ${((rest / stepMs) * 100).toFixed(0).padStart(3)}%  (step - sum of ops; below 0: each replayed op also pays a JS -> native call)`);
}

function hfBaseline(dir: string): { prefill_tokens_per_s: number; decode_tokens_per_s: number } | undefined {
  if (process.env.NEMOTRON_LAB_BENCH_NO_HF) { row("HF transformers", "skipped", "(NEMOTRON_LAB_BENCH_NO_HF)"); return undefined; }
  const script = path.join(__dirname, "..", "..", "test", "fixtures", "hf_bench.py");
  if (!fs.existsSync(script)) { row("HF transformers", "skipped", `(${script} not found)`); return undefined; }
  const py = pythonWith(["torch", "transformers"]);
  if (!py) { row("HF transformers", "skipped", "(no python with torch + transformers: set NEMOTRON_LAB_PYTHON)"); return undefined; }
  const r = spawnSync(py, [script, dir, "--prompt-len", String(PROMPT), "--decode-tokens", String(DECODE), "--threads", String(native().threads())],
    { encoding: "utf8", timeout: 900_000 });
  try {
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
    if (out.error) throw new Error(out.error);
    return out;
  } catch (e) {
    row("HF transformers", "failed", `(${(e as Error).message ?? r.stderr.trim().split("\n").pop()})`);
    return undefined;
  }
}

/** HF's strict config check wants floats in time_step_limit; JSON.stringify writes 0.0 as 0. */
function floatTimeStepLimit(dir: string): void {
  const file = path.join(dir, "config.json");
  fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace(/("time_step_limit": \[\s*)0(\s*,)/, "$10.0$2"));
}

/** RSS (MiB) of a fresh node process before and after opening a checkpoint and running one token. */
function rssOfOneToken(dir: string): { before: number; after: number } {
  const index = path.join(__dirname, "..", "src", "index.js");
  const code = `const {NemotronH}=require(${JSON.stringify(index)});const r=()=>process.memoryUsage().rss/1048576;` +
    `const b=r();const m=NemotronH.load(${JSON.stringify(dir)});m.forward([1],m.newState());console.log(JSON.stringify({before:b,after:r()}));`;
  const out = spawnSync(process.execPath, ["-e", code], { encoding: "utf8" });
  if (out.status !== 0) throw new Error(out.stderr);
  return JSON.parse(out.stdout.trim().split("\n").pop()!);
}

/** The extra backends to time (beyond cpu), from NEMOTRON_LAB_BENCH_BACKENDS; missing ones are reported. */
function extraBackends(): BackendName[] {
  const asked = (process.env.NEMOTRON_LAB_BENCH_BACKENDS ?? "cpu").split(",").map((s) => s.trim()).filter((s) => s && s !== "cpu");
  const have = availableBackends();
  return asked.filter((b): b is BackendName => {
    if (have.includes(b as BackendName)) return true;
    row(`backend ${b}`, "skipped", b === "cuda" ? `(no CUDA device: ${cudaUnavailable()})` : "(unknown or unavailable)");
    return false;
  });
}

/**
 * 1, 2 and all threads (the pool's default: the cores, or NEMOTRON_LAB_THREADS), each once;
 * NEMOTRON_LAB_BENCH_THREADS=1,4 picks others.
 */
export function threadCounts(): number[] {
  const all = native().setThreads(0);
  const asked = process.env.NEMOTRON_LAB_BENCH_THREADS;
  if (asked) return asked.split(",").map(Number).filter((n) => n > 0);
  return [...new Set([1, 2, all])].filter((n) => n <= all).sort((a, b) => a - b);
}

const LLAMA_TYPE: Record<string, "bf16" | "q8_0"> = { bf16: "bf16", f8e4m3: "q8_0" };

export async function run(): Promise<void> {
  const counts = threadCounts(), threads = counts[counts.length - 1];
  console.log(`\n== model: NemotronH forward, 45M-parameter checkpoint (threads ${counts.join(", ")}; prompts ${PROMPTS.join(", ")}, decode ${DECODE})`);
  const read = new Map<number, number>();
  for (const n of counts) {
    native().setThreads(n);
    const r = readBandwidth();
    read.set(n, r.threaded);
    row(`memory read (read-sum, 512 MiB, ${n} thread${n > 1 ? "s" : ""})`, `${r.threaded.toFixed(2)} GB/s`, n === 1 ? `the decode yardstick; plain loop ${r.plain.toFixed(2)} GB/s` : "");
  }
  const copy = copyBandwidth();
  row(`memory copy (read + write, ${threads} threads)`, `${copy.toFixed(2)} GB/s`, `${(copy / read.get(threads)!).toFixed(2)}x the read bandwidth`);
  const extra = extraBackends();
  const bench = llamaBench();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "nl-bench-model-"));
  try {
    let hf: ReturnType<typeof hfBaseline>;
    let bf16Dir = "";
    for (const dtype of ["bf16", "f8e4m3"] as TinyDType[]) {
      const dir = path.join(root, dtype);
      await makeTiny(dir, { pattern: PATTERN, dtype, seed: 7, config: BENCH_CONFIG });
      floatTimeStepLimit(dir);
      if (dtype === "bf16") bf16Dir = dir;
      const m = NemotronH.load(dir);
      const bytes = weightBytesPerToken(m);
      // llama.cpp's peer of ours: its BF16 for BF16, its Q8_0 (8.5 bits a weight) for FP8 E4M3.
      const gguf = bench ? ggufFor(bench, bf16Dir, LLAMA_TYPE[dtype], root) : undefined;
      console.log(`  -- ${dtype} (${(bytes / 1e6).toFixed(1)} MB of weights read per decoded token)${gguf ? `; peer: llama.cpp ${LLAMA_TYPE[dtype]}` : ""}`);
      let r!: ReturnType<typeof measure>;
      for (const n of counts) {
        native().setThreads(n);
        r = measure(m);
        const peer = bench && gguf ? llamaRates(bench, gguf, n, PROMPTS, DECODE) : undefined;
        const roof = (read.get(n)! * 1e9) / bytes;
        const vs = (ours: number, theirs: number | undefined) => theirs ? `; llama.cpp ${theirs.toFixed(1)} tok/s, ours ${(ours / theirs).toFixed(2)}x` : "";
        const t = `${n} thread${n > 1 ? "s" : ""}`;
        row(`decode, ${t}`, `${r.decode.toFixed(1)} tok/s`, `${((r.decode / roof) * 100).toFixed(0)}% of the read roofline ${roof.toFixed(0)} tok/s${vs(r.decode, peer?.decode)}`);
        for (const [len, rate] of r.prefills) row(`prefill ${len}, ${t}`, `${rate.toFixed(1)} tok/s`, `${(rate / r.decode).toFixed(1)}x decode${vs(rate, peer?.prefill.get(len))}`);
      }
      printBreakdown(decodeBreakdown(m, 16 + DECODE / 2), 1e3 / r.decode);
      if (dtype === "bf16") {
        hf = hfBaseline(dir);
        if (hf) {
          row("HF transformers decode (bf16, CPU)", `${hf.decode_tokens_per_s.toFixed(1)} tok/s`, `ours ${(r.decode / hf.decode_tokens_per_s).toFixed(1)}x`);
          row("HF transformers prefill (bf16, CPU)", `${hf.prefill_tokens_per_s.toFixed(1)} tok/s`, `ours ${(r.prefill / hf.prefill_tokens_per_s).toFixed(1)}x`);
        }
      } else if (hf) {
        row("vs HF (bf16) decode / prefill", `${(r.decode / hf.decode_tokens_per_s).toFixed(1)}x / ${(r.prefill / hf.prefill_tokens_per_s).toFixed(1)}x`);
      }
      for (const b of extra) {
        const rb = measure(NemotronH.load(dir, { backend: b }));
        row(`${b} decode (${dtype})`, `${rb.decode.toFixed(1)} tok/s`, `${(rb.decode / r.decode).toFixed(1)}x cpu`);
        row(`${b} prefill (${dtype})`, `${rb.prefill.toFixed(1)} tok/s`, `${(rb.prefill / r.prefill).toFixed(1)}x cpu`);
      }
    }

    // Resident memory of a larger FP8 checkpoint: weights are read in place (mapped), never widened.
    const big = path.join(root, "big-fp8");
    await makeTiny(big, {
      pattern: "M-M*-M-", dtype: "f8e4m3", seed: 9,
      config: { ...BENCH_CONFIG, vocab_size: 32768, hidden_size: 2048, intermediate_size: 8192, mamba_num_heads: 64, num_attention_heads: 16, num_key_value_heads: 4, head_dim: 128 },
    });
    const fileBytes = fs.readdirSync(big).filter((f) => f.endsWith(".safetensors")).reduce((a, f) => a + fs.statSync(path.join(big, f)).size, 0);
    const { before, after } = rssOfOneToken(big);
    console.log(`  -- resident memory, FP8 checkpoint of ${(fileBytes / 2 ** 20).toFixed(0)} MiB`);
    row("RSS growth after open + one token", `${(after - before).toFixed(0)} MiB`, `${((after - before) / (fileBytes / 2 ** 20)).toFixed(2)}x the file size (process RSS ${after.toFixed(0)} MiB)`);
    printFirstToken(big, fileBytes);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
