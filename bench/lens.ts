/**
 * Lens benchmarks: the plain forward beside runWithCache of every block-level hook on the 45M
 * bench model (bench/model.ts's shape; the bound is 10% overhead), and the effective
 * attention of every head of one layer of the 9B's Mamba shape (128 heads of 64, 8 groups,
 * state 128, hidden 4480) at T = 512, beside that layer's plain forward; one activation-patching
 * run (a patched forward) beside a plain forward of the same prompt.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { NemotronH } from "../src/model/nemotron-h";
import { activationPatching } from "../src/lens/patching";
import { makeTiny } from "../src/tiny/make-tiny";
import { bestSeconds, row } from "./common";
import { BENCH_CONFIG, PATTERN } from "./model";

const ids = (n: number, vocab: number) => Array.from({ length: n }, (_, i) => (i * 7919 + 104729) % vocab);

export async function run(): Promise<void> {
  console.log("\n== lens: hooks and derived views");
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "nl-bench-lens-"));
  try {
    const dir = path.join(root, "bench");
    await makeTiny(dir, { pattern: PATTERN, dtype: "bf16", seed: 7, config: BENCH_CONFIG });
    const m = NemotronH.load(dir);
    const prompt = ids(128, m.vocabSize);
    const names = m.hookNames();
    const plain = bestSeconds(() => m.logits(prompt), 5);
    const hooked = bestSeconds(() => m.runWithCache(prompt, { names }), 5);
    row("forward, no hooks (T=128)", `${(plain * 1e3).toFixed(1)} ms`, "the yardstick");
    row(`runWithCache, ${names.length} block-level hooks`, `${(hooked * 1e3).toFixed(1)} ms`,
      `${(((hooked - plain) / plain) * 100).toFixed(1)}% overhead (bound 10%)`);
    const clean = ids(16, m.vocabSize), corrupted = clean.map((v, i) => (i === 3 ? (v + 1) % m.vocabSize : v));
    const short = bestSeconds(() => m.logits(clean), 5);
    const sweep = bestSeconds(() => activationPatching(m, clean, corrupted, { answer: 0, wrong: 1, layers: [0, 1] }), 2);
    const each = sweep / (2 * clean.length);
    row("activation patching, one patched run (T=16)", `${(each * 1e3).toFixed(2)} ms`,
      `${(each / short).toFixed(2)}x a plain forward (${(short * 1e3).toFixed(2)} ms)`);

    const big = path.join(root, "mamba-9b-layer");
    await makeTiny(big, {
      pattern: "M", dtype: "bf16", seed: 3,
      config: { ...BENCH_CONFIG, vocab_size: 256, hidden_size: 4480, mamba_num_heads: 128, mamba_head_dim: 64, n_groups: 8, ssm_state_size: 128 },
    });
    const l = NemotronH.load(big);
    const T = 512, p = ids(T, l.vocabSize);
    const fwd = bestSeconds(() => l.logits(p), 2);
    const eff = bestSeconds(() => l.runWithCache(p, { names: ["backbone.layers.0.mixer.effective_attention"] }), 2);
    row("9B-shaped Mamba layer forward (T=512)", `${(fwd * 1e3).toFixed(0)} ms`, "the yardstick");
    row("+ effective attention, 128 heads x 512²", `${(eff * 1e3).toFixed(0)} ms`, `${(eff / fwd).toFixed(1)}x the forward (${(128 * T * T * 4 / 2 ** 20).toFixed(0)} MiB)`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
