/**
 * Foundation benchmarks: FP8 encode/decode and statistics throughput on 128 MiB of BF16,
 * beside the memory copy bandwidth measured in the same run (goal: >= 70% of it), torch's
 * conversions when a Python with torch is present, and the time to open a 9B-shaped
 * checkpoint (headers only, sparse files).
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { native } from "../src/backend/native";
import { encodeFp8, encodeFp8From, decodeFp8 } from "../src/fp8/codec";
import { Tensor } from "../src/tensor/tensor";
import { Checkpoint } from "../src/model/checkpoint";
import { SafetensorsWriter } from "../src/io/writer";
import { parseConfig } from "../src/model/config";
import { expectedTensors } from "../src/model/arch";
import { float32ToBf16 } from "../src/tensor/convert";
import { Rng } from "../src/util/random";
import { bestSeconds, copyBandwidth, gbps, pythonWith, row, runPython } from "./common";

const MIB = 2 ** 20;

export async function run(): Promise<void> {
  const threads = native().threads();
  console.log(`\n== foundation: FP8 codec, statistics, opening (${threads} threads)`);
  const copy = copyBandwidth();
  row("memory copy (read bandwidth)", `${copy.toFixed(2)} GB/s`, "the yardstick");
  const ratio = (bytes: number, s: number) => `${((bytes / s / 1e9 / copy) * 100).toFixed(0)}% of copy`;

  const n = 64 * MIB;  // 128 MiB of BF16
  const rng = new Rng(1);
  const f32 = new Float32Array(n);
  for (let i = 0; i < n; i += 4096) f32.set(rng.normalArray(Math.min(4096, n - i), 0.05), i);
  const bf16 = float32ToBf16(f32);

  const codes = new Uint8Array(n);
  let s = bestSeconds(() => encodeFp8From(bf16, "BF16", "e4m3", { out: codes }));
  row("encode BF16 -> E4M3", gbps(2 * n, s), ratio(2 * n, s));
  s = bestSeconds(() => encodeFp8From(bf16, "BF16", "e4m3"));
  row("  same, into a fresh buffer each call", gbps(2 * n, s), ratio(2 * n, s) + " (page faults of the new buffer included)");
  const f32part = f32.subarray(0, 32 * MIB);
  s = bestSeconds(() => encodeFp8(f32part, "e4m3", { out: codes }));
  row("encode F32 -> E4M3 (128 MiB in)", gbps(4 * f32part.length, s), ratio(4 * f32part.length, s));
  const decoded = new Float32Array(n);
  s = bestSeconds(() => decodeFp8(codes, "e4m3", 1, decoded));
  row("decode E4M3 -> F32 (64 MiB in, 256 MiB out)", gbps(n, s), `${gbps(5 * n, s)} moved: ${ratio(5 * n, s)}`);

  const t = Tensor.fromArray("bench.bf16", bf16, [n], "BF16");
  s = bestSeconds(() => t.stats());
  row("statistics (moments) over BF16", gbps(2 * n, s), ratio(2 * n, s));
  s = bestSeconds(() => t.stats({ percentiles: [1, 50, 99] }), 2);
  row("statistics + exact percentiles over BF16", gbps(2 * n, s), ratio(2 * n, s));
  s = bestSeconds(() => t.histogram({ bins: 256 }), 2);
  row("histogram (256 bins, incl. range pass)", gbps(2 * n, s), ratio(2 * n, s));

  const py = pythonWith(["torch"]);
  if (py) {
    const r = runPython(py, `
import json, time, torch
torch.set_num_threads(${threads})
x = (torch.randn(${n}) * 0.05).to(torch.bfloat16)
def best(f, reps=5):
    f(); b = 1e9
    for _ in range(reps):
        t = time.perf_counter(); f(); b = min(b, time.perf_counter() - t)
    return b
y = x.to(torch.float8_e4m3fn)
print(json.dumps({"enc": ${2 * n} / best(lambda: x.to(torch.float8_e4m3fn)) / 1e9,
                  "dec": ${n} / best(lambda: y.to(torch.bfloat16)) / 1e9,
                  "copy": ${2 * n} / best(lambda: x.clone()) / 1e9}))`);
    if (r) {
      row("torch bf16 -> float8_e4m3fn", `${r.enc.toFixed(2)} GB/s`, "torch, same run, same threads");
      row("torch float8_e4m3fn -> bf16 (GB/s of fp8 in)", `${r.dec.toFixed(2)} GB/s`);
      row("torch clone (copy)", `${r.copy.toFixed(2)} GB/s`);
    }
  } else {
    console.log("  (no Python with torch: set NEMOTRON_LAB_PYTHON to compare with torch's conversions)");
  }

  // Opening a 9B-shaped checkpoint: real tensor names and shapes, sparse shards of <= 5 GB.
  const cfgText = fs.readFileSync(path.join(__dirname, "..", "..", "test", "fixtures", "nemotron-nano-9b-v2.config.json"), "utf8")
    .replace(/"_comment"[^\n]*\n/, "");
  const config = parseConfig(cfgText);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nl-9b-"));
  try {
    fs.writeFileSync(path.join(dir, "config.json"), cfgText);
    const w = new SafetensorsWriter(dir, { headersOnly: true, maxShardBytes: 5e9 });
    for (const e of expectedTensors(config)) w.add(e.name, "BF16", e.shape, () => new Uint8Array(0));
    await w.write();
    const rss0 = process.memoryUsage().rss;
    let ck: Checkpoint | undefined;
    s = bestSeconds(() => { ck = Checkpoint.open(dir); }, 5);
    const tensor = ck!.tensor("backbone.layers.0.mixer.in_proj.weight");
    tensor.row(0);
    const rss = (process.memoryUsage().rss - rss0) / MIB;
    row("open 9B-shaped BF16 checkpoint (headers)", `${(s * 1000).toFixed(1)} ms`,
      `${ck!.files.length} shards, ${(w.totalBytes / 1e9).toFixed(2)} GB, ${ck!.tensors.size} tensors, RSS +${rss.toFixed(0)} MiB`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
