/**
 * `npm run bench -- --scale 9b`: decode at real scale. Generates a random checkpoint with the
 * shapes of NVIDIA-Nemotron-Nano-9B-v2 (its config and layer pattern, 8.9 B parameters; FP8
 * E4M3 linears with per-tensor scales and a BF16 lm_head and embedding, about 10 GB) in the
 * temporary folder, checks the disk has room first, and reports beside the read roofline
 * measured in the same run: the time to open it and produce the first token in a fresh
 * process (every weight page is touched for the first time), then decode tok/s with each
 * thread count. Never part of CI (it takes minutes and ~10 GB); the folder is removed after.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { native } from "../src/backend/native";
import { NemotronH } from "../src/model/nemotron-h";
import { NANO_V2_PATTERN } from "../src/tiny/bundled";
import { makeTiny } from "../src/tiny/make-tiny";
import { bestSeconds, firstToken, printFirstToken, readBandwidth, row } from "./common";
import { threadCounts, weightBytesPerToken } from "./model";

/** config.json sizes of NVIDIA-Nemotron-Nano-9B-v2. */
export const NANO_9B_CONFIG = {
  vocab_size: 131072, hidden_size: 4480, num_attention_heads: 40, num_key_value_heads: 8, head_dim: 128,
  intermediate_size: 15680, mamba_num_heads: 128, mamba_head_dim: 80, ssm_state_size: 128, n_groups: 8,
  conv_kernel: 4, chunk_size: 128,
};

export async function run(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "nl-bench-9b-"));
  const need = 12e9;
  const st = fs.statfsSync(root);
  const free = st.bavail * st.bsize;
  console.log(`\n== scale 9b: Nemotron-Nano-9B-v2 shapes, FP8 E4M3 linears + BF16 head, random weights in ${root}`);
  if (free < 2 * need) {
    row("9B-shaped checkpoint", "skipped", `(${(free / 1e9).toFixed(0)} GB free in ${os.tmpdir()}, want ${(2 * need / 1e9).toFixed(0)}: set TMPDIR)`);
    fs.rmSync(root, { recursive: true, force: true });
    return;
  }
  try {
    const dir = path.join(root, "fp8");
    let t = process.hrtime.bigint();
    await makeTiny(dir, { pattern: NANO_V2_PATTERN, dtype: "f8e4m3", seed: 3, config: NANO_9B_CONFIG, maxShardBytes: 4e9 });
    const fileBytes = fs.readdirSync(dir).filter((f) => f.endsWith(".safetensors")).reduce((a, f) => a + fs.statSync(path.join(dir, f)).size, 0);
    row("generate the checkpoint", `${(Number(process.hrtime.bigint() - t) / 1e9).toFixed(1)} s`, `${(fileBytes / 1e9).toFixed(2)} GB written`);
    printFirstToken(dir, fileBytes);
    const m = NemotronH.load(dir);
    // Decode from resident, mapped pages: wait for the read-ahead (the generation above may
    // have let the kernel write back and drop the first shards), then time best of 3.
    const ra = m.checkpoint.readAhead();
    while (ra.progress() < 1) await new Promise((r) => setTimeout(r, 20));
    const bytes = weightBytesPerToken(m);
    for (const n of threadCounts()) {
      native().setThreads(n);
      const read = readBandwidth().threaded;
      const st = m.newState();
      m.forward([1, 2, 3, 4], st, { lastOnly: true });
      const base = st.clone();
      const tokens = 8;
      const s = bestSeconds(() => {
        const st2 = base.clone();
        for (let i = 0; i < tokens; i++) m.forward([5 + i], st2, { lastOnly: true });
      }, 3);
      const rate = tokens / s, roof = (read * 1e9) / bytes;
      row(`decode, ${n} thread${n > 1 ? "s" : ""}`, `${rate.toFixed(2)} tok/s`, `${((rate / roof) * 100).toFixed(0)}% of the read roofline ${roof.toFixed(2)} tok/s (${(bytes / 1e9).toFixed(2)} GB a token, read ${read.toFixed(1)} GB/s)`);
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
