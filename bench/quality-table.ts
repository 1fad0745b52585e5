/**
 * Quality figures of a trained checkpoint, measured by our engine (dtClamp "none"): held-out
 * perplexity, greedy continuations in each training language, and what FP8 quantization does
 * (perplexity and KL to the BF16 model) for the official layout and the usual alternatives, plus
 * the 10 most sensitive tensors. Not a speed benchmark (npm run bench does not run it).
 * Usage: npx tsc -p tsconfig.json && node dist/bench/quality-table.js [CKPT] [--tokens N] [--json FILE]
 * (CKPT defaults to the bundled trained model; its held-out text is CKPT/heldout.txt.)
 */
import * as fs from "fs";
import * as path from "path";
import {
  NemotronH, TextTokenizer, bundledModel, distributionShift, greedy, quantizeModel, recordLogits, sensitivitySweep,
  windowedPerplexity, ModelQuantOptions,
} from "../src/index";
import { FP8_CALIBRATION } from "../src/tiny/bundled";

const CONTINUATIONS: [string, string][] = [
  ["en", "The meaning of life is"],
  ["de", "Das Leben ist"],
  ["es", "La vida es"],
  ["it", "La vita è"],
  ["fr", "Le système Debian"],
];

const VARIANTS: [string, ModelQuantOptions][] = [
  ["official FP8 layout (nvidia-fp8, E4M3 per tensor)", { layers: "nvidia-fp8" }],
  ["all-linear E4M3 per tensor", { layers: "all-linear" }],
  ["all-linear E4M3 per channel", { layers: "all-linear", granularity: "channel" }],
  ["all-linear E4M3 128x128 blocks", { layers: "all-linear", granularity: "block", blockSize: 128, pad: true }],
  ["all-linear E5M2 per tensor", { layers: "all-linear", format: "e5m2" }],
  ["lm_head alone E4M3 per tensor", { layers: "lm_head" }],
];

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const dir = argv[0] && !argv[0].startsWith("--") ? argv[0] : await bundledModel();
  const maxTokens = Number(flag(argv, "--tokens") ?? 16384);
  const tok = TextTokenizer.load(dir);
  const bos = tok.encode("");
  const ids = tok.encode(fs.readFileSync(path.join(dir, "heldout.txt"), "utf8"), { addSpecialTokens: false }).slice(0, maxTokens);
  const model = NemotronH.load(dir);
  const ppl = (m: NemotronH) => windowedPerplexity(m, ids, { window: 512, prefix: bos });
  // KL prompts: 16 held-out windows of 128 tokens, each from BOS.
  const prompts = Array.from({ length: 16 }, (_, i) => [...bos, ...ids.slice(i * 127, (i + 1) * 127)]);
  const base = ppl(model);
  const baseRec = recordLogits(model, prompts, { label: "BF16 logits" });
  const out: Record<string, unknown> = { checkpoint: dir, heldoutTokens: ids.length, window: 512, dtClamp: "none",
    perplexity: base.perplexity, tokensPerSecond: base.processed / base.seconds };
  console.log(`${dir}: held-out perplexity ${base.perplexity.toFixed(2)} over ${base.scored} tokens (windows of 512 from BOS, dt clamp none), ${(base.processed / base.seconds).toFixed(0)} tokens/s\n`);

  console.log("greedy continuations (24 tokens):");
  const cont: Record<string, string> = {};
  for (const [lang, p] of CONTINUATIONS) {
    const g = greedy(model, tok.encode(p), 24);
    cont[lang] = p + tok.decode(g, { skipSpecialTokens: true });
    console.log(`  ${lang}: ${JSON.stringify(cont[lang])}`);
  }
  out.continuations = cont;

  const rows: Record<string, unknown>[] = [{ variant: "BF16 (as shipped)", perplexity: base.perplexity, klMean: 0, klP99: 0, top1: 1 }];
  const calibration = FP8_CALIBRATION.map((t) => tok.encode(t));
  const variants: [string, ModelQuantOptions][] = [...VARIANTS,
    ["official FP8 layout, W8A8: + E4M3 activations, static per-tensor input scales (as vLLM runs the FP8 twin)",
      { layers: "nvidia-fp8", activations: { mode: "static", prompts: calibration } }]];
  for (const [label, opts] of variants) {
    const s = quantizeModel(model, { ...opts, label });
    try {
      const shift = distributionShift(baseRec, recordLogits(model, prompts, { label }));
      rows.push({ variant: label, tensors: s.entries.length, perplexity: ppl(model).perplexity, klMean: shift.klMean, klP99: shift.klP99, top1: shift.top1Agreement });
    } finally {
      s.revert();
    }
  }
  const twinDir = await bundledModel("nano-fortunes-fp8");
  if (path.resolve(dir) === path.resolve(await bundledModel())) {
    const twin = NemotronH.load(twinDir);
    const shift = distributionShift(baseRec, recordLogits(twin, prompts, { label: "FP8 twin" }));
    rows.push({ variant: "the bundled FP8 twin loaded from disk (its FP8 weights; input scales are not applied on load)", perplexity: ppl(twin).perplexity, klMean: shift.klMean, klP99: shift.klP99, top1: shift.top1Agreement });
  }
  out.quantization = rows;
  console.log("\n| variant | held-out ppl | KL mean to BF16 | KL p99 | top-1 agreement |\n|---|---|---|---|---|");
  for (const r of rows) {
    console.log(`| ${r.variant} | ${(r.perplexity as number).toFixed(2)} | ${(r.klMean as number).toExponential(2)} | ${(r.klP99 as number).toExponential(2)} | ${((r.top1 as number) * 100).toFixed(1)}% |`);
  }

  const sweep = sensitivitySweep(model, { prompts: prompts.slice(0, 4), layers: "all-linear", by: "tensor", baseline: undefined });
  const top = sweep.rows.slice(0, 10).map((r) => ({ tensor: r.group, kind: r.kind, klMean: r.klMean, top1: r.top1Agreement }));
  out.sensitivity = top;
  console.log("\nmost sensitive tensors (all-linear E4M3 per tensor, one at a time, 4 prompts):\n| rank | tensor | kind | KL mean | top-1 agreement |\n|---|---|---|---|---|");
  top.forEach((r, i) => console.log(`| ${i + 1} | ${r.tensor} | ${r.kind} | ${r.klMean.toExponential(2)} | ${(r.top1 * 100).toFixed(1)}% |`));
  const json = flag(argv, "--json");
  if (json) fs.writeFileSync(json, JSON.stringify(out, null, 1) + "\n");
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
