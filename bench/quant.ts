/**
 * Quantization benchmarks: the fused FP8 quantizer's throughput (GB/s of BF16 input) for
 * each granularity, with and without the error metrics, beside the memory copy bandwidth
 * measured in the same run (goal: >= 60% of it) and torch's per-tensor pipeline (amax,
 * scale, divide, clamp, convert) when a Python with torch is present; the time to
 * quantize every linear of a 9B-shaped checkpoint, measured on one layer of each kind at
 * the real shapes and extrapolated to the 56-layer plan + lm_head; the cost of a
 * sensitivity sweep on the tiny model beside one forward pass.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { native } from "../src/backend/native";
import { quantizeArray, quantizeTensor } from "../src/fp8/quantize";
import { Checkpoint } from "../src/model/checkpoint";
import { SafetensorsWriter } from "../src/io/writer";
import { readConfigFile, validateConfig } from "../src/model/config";
import { expectedTensors } from "../src/model/arch";
import { makeTiny } from "../src/tiny/make-tiny";
import { configJsonText } from "../src/io/config-json";
import { NemotronH } from "../src/model/nemotron-h";
import { sensitivitySweep } from "../src/quant/sensitivity";
import { recordLogits } from "../src/quant/compare";
import { bestSeconds, copyBandwidth, gbps, pythonWith, row, runPython } from "./common";

/** BF16 bits of roughly N(0, 0.02) values, cheap to make (no Float32 pass). */
function randomBf16(n: number, seed = 1): Uint16Array {
  const out = new Uint16Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    // exponent around 2^-6..2^-8, random mantissa and sign
    out[i] = ((x >>> 31) << 15) | ((120 + ((x >>> 8) & 3)) << 7) | ((x >>> 12) & 0x7f);
  }
  return out;
}

export async function run(): Promise<void> {
  const threads = native().threads();
  console.log(`\n== quantization: fused FP8 quantizer (${threads} threads)`);
  const copy = copyBandwidth();
  row("memory copy (read bandwidth)", `${copy.toFixed(2)} GB/s`, "the yardstick");
  const ratio = (bytes: number, s: number) => `${((bytes / s / 1e9 / copy) * 100).toFixed(0)}% of copy`;

  const [R, C] = [15680, 4480];  // Nano-9B MLP up_proj
  const n = R * C, bytes = 2 * n;
  const w = randomBf16(n), out = new Uint8Array(n);
  for (const [g, extra] of [["tensor", {}], ["channel", {}], ["block", { blockSize: 128, pad: true }]] as const) {
    for (const metrics of [false, true]) {
      const s = bestSeconds(() => quantizeArray("up_proj", w, [R, C], { dtype: "BF16", granularity: g, metrics, out, ...extra }), 3);
      row(`quantize BF16 [${R}, ${C}] ${g}${metrics ? " + metrics" : ""}`, gbps(bytes, s), ratio(bytes, s));
    }
  }
  const fresh = bestSeconds(() => quantizeArray("up_proj", w, [R, C], { dtype: "BF16", granularity: "channel", metrics: false }), 3);
  row("  channel, into a fresh codes buffer each call", gbps(bytes, fresh), ratio(bytes, fresh) + " (page faults of the new buffer included)");
  for (const scale of ["percentile:99.99", "search:20:0.5"]) {
    const s = bestSeconds(() => quantizeArray("up_proj", w, [R, C], { dtype: "BF16", granularity: "channel", scale, metrics: false }), 1);
    row(`  channel, scale ${scale}`, gbps(bytes, s), ratio(bytes, s));
  }

  const py = pythonWith(["torch"]);
  if (py) {
    const r = runPython(py, `
import json, time, torch
torch.manual_seed(0)
x = (torch.randn(${R}, ${C}) * 0.02).to(torch.bfloat16)
def q():
    amax = x.abs().amax().float()
    scale = amax / 448.0
    return (x.float() / scale).clamp(-448.0, 448.0).to(torch.float8_e4m3fn), scale
q()
best = min((lambda t0: (q(), time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(3))
print(json.dumps({"s": best, "threads": torch.get_num_threads()}))
`);
    if (r) row(`torch ${"per-tensor (amax, scale, divide, convert)"}`, gbps(bytes, r.s), `${ratio(bytes, r.s)}, torch threads ${r.threads}`);
  } else {
    row("torch per-tensor pipeline", "n/a", "(no python with torch: set NEMOTRON_LAB_PYTHON)");
  }

  // A 9B-shaped subset: one layer of each kind at the real shapes, written with SafetensorsWriter.
  const full = readConfigFile(path.join(__dirname, "..", "..", "test", "fixtures", "nemotron-nano-9b-v2.config.json"));
  const sub = validateConfig({ ...full.raw, num_hidden_layers: 3, hybrid_override_pattern: "M*-", vocab_size: 256 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nl-bench-quant-"));
  try {
    const writer = new SafetensorsWriter(dir, { label: "writing 9B-shaped subset" });
    let seed = 2;
    for (const e of expectedTensors(sub)) writer.add(e.name, "BF16", e.shape, () => randomBf16(e.shape.reduce((a, b) => a * b, 1), seed++));
    await writer.write();
    fs.writeFileSync(path.join(dir, "config.json"), configJsonText(sub.raw));
    const ck = Checkpoint.open(dir);
    const perKind = new Map<string, { s: number; bytes: number }>();
    for (const e of expectedTensors(sub).filter((e) => e.linear && e.layer >= 0)) {
      const t = ck.tensor(e.name);
      const s = bestSeconds(() => quantizeTensor(t, { granularity: "tensor", metrics: true }), 2);
      const k = perKind.get(e.kind) ?? { s: 0, bytes: 0 };
      perKind.set(e.kind, { s: k.s + s, bytes: k.bytes + t.nbytes });
    }
    const counts = { mamba: 0, attention: 0, mlp: 0, moe: 0 } as Record<string, number>;
    for (const c of full.hybrid_override_pattern) counts[{ M: "mamba", "*": "attention", "-": "mlp", E: "moe" }[c]!]++;
    let total = 0, totalBytes = 0;
    for (const [k, v] of perKind) {
      row(`9B ${k} layer linears, per-tensor + metrics`, `${(v.s * 1000).toFixed(0)} ms`, `${gbps(v.bytes, v.s)}, x${counts[k]} layers`);
      total += v.s * counts[k]; totalBytes += v.bytes * counts[k];
    }
    const rate = totalBytes / total;
    const lmHead = 2 * full.vocab_size * full.hidden_size;
    total += lmHead / rate; totalBytes += lmHead;
    row("all linears of Nano-9B (extrapolated)", `${total.toFixed(1)} s`, `${(totalBytes / 1e9).toFixed(2)} GB BF16, from 1 layer per kind at real shapes + lm_head at the same rate`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }

  // Sensitivity sweep on the tiny model.
  const tiny = fs.mkdtempSync(path.join(os.tmpdir(), "nl-bench-tiny-"));
  try {
    await makeTiny(tiny, { seed: 1 });
    const model = NemotronH.load(tiny);
    const prompts = [Array.from({ length: 64 }, (_, i) => (i * 37) % 1000), Array.from({ length: 64 }, (_, i) => (i * 11 + 5) % 1000)];
    const fwd = bestSeconds(() => recordLogits(model, prompts), 3);
    const t0 = performance.now();
    const res = sensitivitySweep(model, { prompts, by: "tensor" });
    const s = (performance.now() - t0) / 1000;
    row(`sensitivity sweep, tiny model, ${res.rows.length} tensors x 2 prompts of 64`, `${(s * 1000).toFixed(0)} ms`, `${(s / fwd).toFixed(1)}x one pass over the prompts (${(fwd * 1000).toFixed(1)} ms)`);
  } finally {
    fs.rmSync(tiny, { recursive: true, force: true });
  }
}
