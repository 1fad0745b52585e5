/**
 * Sampling cost per token at Nano-v2's vocabulary (131072 logits), for the usual presets,
 * printed beside the time to copy one logits row with native().copyBytes (the memory-bound
 * floor for any pass over the row), and how many such passes each preset costs.
 * Run: npm run bench (once bench/run.ts lists this module), or node dist/bench/sampling.js.
 */
import { performance } from "perf_hooks";
import { Sampler, SamplingOptions, native } from "../src/index";
import { Rng } from "../src/util/random";

const VOCAB = 131072;

function timeMs(fn: () => void, minMs = 200): number {
  for (let i = 0; i < 3; i++) fn();
  let n = 0;
  const t = performance.now();
  while (performance.now() - t < minMs) { fn(); n++; }
  return (performance.now() - t) / n;
}

export async function run(): Promise<void> {
  const logits = new Rng(1).normalArray(VOCAB, 3);
  const row = new Uint8Array(logits.buffer.slice(0));
  const dst = new Uint8Array(row.length);
  const copyMs = timeMs(() => native().copyBytes(row, dst));
  const context = Array.from({ length: 2048 }, (_, i) => (i * 7919) % VOCAB);
  const presets: [string, SamplingOptions][] = [
    ["greedy", { temperature: 0 }],
    ["temperature 0.6", { temperature: 0.6 }],
    ["NVIDIA card: T 0.6, top-p 0.95", { temperature: 0.6, topP: 0.95 }],
    ["top-k 50 + top-p 0.95", { temperature: 0.6, topK: 50, topP: 0.95 }],
    ["min-p 0.05", { temperature: 0.6, minP: 0.05 }],
    ["flat: T 1.5, top-p 0.95, rep 1.1 (2048 ctx)", { temperature: 1.5, topP: 0.95, repetitionPenalty: 1.1 }],
  ];
  console.log(`sampling over ${VOCAB} logits; limit: one ${(row.length / 1024).toFixed(0)} KiB row copy = ${(copyMs * 1000).toFixed(1)} µs`);
  for (const [name, o] of presets) {
    const s = new Sampler({ ...o, seed: 1 });
    const ctx = o.repetitionPenalty ? context : [];
    const ms = timeMs(() => s.next(logits, ctx));
    console.log(`  ${name.padEnd(44)} ${ms.toFixed(2).padStart(7)} ms/token  = ${(ms / copyMs).toFixed(0).padStart(5)} row copies`);
  }
}

if (require.main === module) run();
