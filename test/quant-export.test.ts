// Quantized checkpoints out (compressed-tensors, ModelOpt) and FP8 checkpoints in
// (those, DeepSeek-style blocks, bare FP8): export -> reload round trips exactly.
import { beforeAll, describe, expect, it } from "vitest";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Checkpoint, NemotronH, makeTiny, SafetensorsWriter, exportQuantized, exportSession, quantizeModel, quantizeTensor, encodeFp8, dequantize } from "../src/index";
import { FakeLM } from "./helpers/fake-quant-lm";

let root: string, bf16: string, f8: string;
const prompt = [1, 17, 300, 5, 42];

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "nl-quant-export-"));
  bf16 = path.join(root, "bf16");
  f8 = path.join(root, "f8");
  await makeTiny(bf16, { dtype: "bf16", seed: 11 });
  fs.writeFileSync(path.join(bf16, "tokenizer.json"), "{}\n");
  await makeTiny(f8, { dtype: "f8e4m3", seed: 12 });
});

function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  return a.length === b.length && Array.prototype.every.call(a, (v: number, i: number) => Object.is(v, b[i]));
}

describe("compressed-tensors export", () => {
  for (const [granularity, extra] of [["tensor", {}], ["channel", {}], ["block", { blockSize: 8 }]] as const) {
    it(`${granularity}: config, tensors and a reload that runs like the live quantized model`, async () => {
      const out = path.join(root, `ct-${granularity}`);
      const res = await exportQuantized(bf16, out, { export: "compressed-tensors", layers: "nvidia-fp8", granularity, ...extra });
      const src = Checkpoint.open(bf16), ck = Checkpoint.open(out);
      expect(ck.weightFormat).toBe("fp8-compressed-tensors");
      const qc = JSON.parse(fs.readFileSync(path.join(out, "config.json"), "utf8").replace(/\bInfinity\b/g, "1e999")).quantization_config;
      expect(qc.quant_method).toBe("compressed-tensors");
      expect(qc.format).toBe("float-quantized");
      const w = qc.config_groups.group_0.weights;
      expect(w).toMatchObject({ num_bits: 8, type: "float", strategy: granularity, symmetric: true, dynamic: false });
      expect(w.block_structure).toEqual(granularity === "block" ? [8, 8] : null);
      expect(qc.config_groups.group_0.targets).toEqual(["Linear"]);
      // Block weights declare dynamic per-token-group activations (vLLM's W8A8 block path, as llm-compressor's FP8_BLOCK).
      expect(qc.config_groups.group_0.input_activations).toEqual(granularity === "block"
        ? expect.objectContaining({ type: "float", num_bits: 8, dynamic: true, strategy: "group", group_size: 8 }) : null);
      expect(qc.ignore).toContain("lm_head");
      expect(qc.ignore).toContain("backbone.layers.3.mixer.q_proj");
      expect(qc.ignore).toContain("backbone.layers.0.mixer.conv1d");
      expect(qc.ignore).not.toContain("backbone.layers.0.mixer.in_proj");
      expect(fs.existsSync(path.join(out, "tokenizer.json"))).toBe(true);
      expect(res.quantized).toHaveLength(10);
      for (const n of res.quantized) {
        const t = ck.tensor(n), q = quantizeTensor(src.tensor(n), { granularity, ...extra });
        expect(t.dtype).toBe("F8_E4M3");
        expect(same(t.bytes(), q.codes)).toBe(true);
        expect(same(t.scaleValues()!, q.scales)).toBe(true);
        expect(ck.tensor(n.replace(/weight$/, "weight_scale")).shape).toEqual(q.scaleShape);
        expect(t.scale!.granularity).toBe(granularity === "channel" ? "row" : granularity);
      }
      for (const n of src.names().filter((n) => !res.quantized.includes(n))) expect(same(ck.tensor(n).bytes(), src.tensor(n).bytes())).toBe(true);
      // The reloaded checkpoint runs exactly like the live model with the same quantization.
      const live = NemotronH.load(bf16);
      const s = quantizeModel(live, { layers: "nvidia-fp8", granularity, ...extra });
      expect(same(NemotronH.load(out).logits(prompt), live.logits(prompt))).toBe(true);
      s.revert();
    });
  }

  it("partial edge blocks when padding is allowed, declared block size read back", async () => {
    const out = path.join(root, "ct-pad");
    await expect(exportQuantized(bf16, out, { export: "compressed-tensors", layers: "mamba", granularity: "block", blockSize: 48 })).rejects.toThrow(/48x48 does not divide/);
    await exportQuantized(bf16, out, { export: "compressed-tensors", layers: "mamba", granularity: "block", blockSize: 48, pad: true });
    const t = Checkpoint.open(out).tensor("backbone.layers.0.mixer.in_proj.weight");
    expect([t.scale!.blockRows, t.scale!.blockCols]).toEqual([48, 48]);
    expect(same(t.values(), dequantize(quantizeTensor(Checkpoint.open(bf16).tensor(t.name), { granularity: "block", blockSize: 48, pad: true })))).toBe(true);
  });

  it("requantizes an FP8 source; unselected FP8 weights come out as BF16", async () => {
    const out = path.join(root, "ct-from-f8");
    const res = await exportQuantized(f8, out, { export: "compressed-tensors", layers: "mlp", granularity: "channel" });
    const ck = Checkpoint.open(out);
    expect(ck.tensor("backbone.layers.1.mixer.up_proj.weight").dtype).toBe("F8_E4M3");
    expect(ck.tensor("backbone.layers.0.mixer.in_proj.weight").dtype).toBe("BF16");
    expect(ck.has("backbone.layers.0.mixer.in_proj.weight_scale")).toBe(false);
    expect(res.warnings.some((w) => w.includes("in_proj"))).toBe(true);
  });

  it("all-linear keeps lm_head in BF16 and lists it in ignore (vLLM does not quantize lm_head)", async () => {
    const out = path.join(root, "ct-all");
    const res = await exportQuantized(bf16, out, { export: "compressed-tensors", layers: "all-linear" });
    const ck = Checkpoint.open(out);
    expect(ck.tensor("lm_head.weight").dtype).toBe("BF16");
    expect(ck.has("lm_head.weight_scale")).toBe(false);
    expect(same(ck.tensor("lm_head.weight").bytes(), Checkpoint.open(bf16).tensor("lm_head.weight").bytes())).toBe(true);
    expect(res.ignored).toContain("lm_head");
    expect(res.keptHighPrecision).toEqual([{ name: "lm_head.weight", reason: expect.stringMatching(/vLLM/) }]);
    await expect(exportQuantized(bf16, path.join(root, "ct-head"), { export: "compressed-tensors", layers: "lm_head" })).rejects.toThrow(/nothing left to quantize.*lm_head/);
    await expect(exportQuantized(bf16, path.join(root, "ct-bs"), { export: "compressed-tensors", granularity: "block", blockSize: 8, activations: "static", defaultInputScale: 0.1 })).rejects.toThrow(/block scales go with dynamic/);
  });

  it("refuses to split q/k/v (vLLM fuses them) and E5M2", async () => {
    await expect(exportQuantized(bf16, path.join(root, "x1"), { export: "compressed-tensors", layers: "*.q_proj" })).rejects.toThrow(/qkv_proj/);
    await expect(exportQuantized(bf16, path.join(root, "x2"), { export: "compressed-tensors", format: "e5m2" })).rejects.toThrow(/E4M3/);
  });
});

describe("ModelOpt export", () => {
  it("exports a calibrated session: hf_quant_config.json, scalar weight_scale and input_scale", async () => {
    const model = new FakeLM(Checkpoint.open(bf16));
    const s = quantizeModel(model, { layers: "nvidia-fp8", activations: { mode: "static", prompts: [prompt, [3, 4, 5]] } });
    const out = path.join(root, "modelopt");
    const res = await exportSession(s, bf16, out, { export: "modelopt" });
    const ck = Checkpoint.open(out);
    expect(ck.weightFormat).toBe("fp8-modelopt");
    const hq = JSON.parse(fs.readFileSync(path.join(out, "hf_quant_config.json"), "utf8"));
    expect(hq.quantization.quant_algo).toBe("FP8");
    expect(hq.quantization.exclude_modules).toEqual(res.ignored);
    // config.json's flat form, as ModelOpt writes it: vLLM reads `ignore` there.
    const qc = JSON.parse(fs.readFileSync(path.join(out, "config.json"), "utf8").replace(/\bInfinity\b/g, "1e999")).quantization_config;
    expect(qc).toMatchObject({ quant_method: "modelopt", quant_algo: "FP8", ignore: res.ignored });
    expect(qc.exclude_modules).toBeUndefined();
    expect(qc.config_groups.group_0.targets).toEqual(["Linear"]);
    for (const e of s.entries) {
      const base = e.q.name.replace(/\.weight$/, "");
      expect(ck.tensor(`${base}.weight_scale`).shape).toEqual([]);
      expect(ck.tensor(`${base}.input_scale`).values()[0]).toBe(e.inputScale);
      expect(same(ck.tensor(e.q.name).bytes(), e.q.codes)).toBe(true);
    }
    expect(res.report.rows[0].inputScale).toBe(s.entries[0].inputScale);
  });

  it("needs input scales and per-tensor weight scales", async () => {
    await expect(exportQuantized(bf16, path.join(root, "m1"), { export: "modelopt" })).rejects.toThrow(/input scale.*calibrate/);
    await expect(exportQuantized(bf16, path.join(root, "m2"), { export: "modelopt", granularity: "channel", defaultInputScale: 0.01 })).rejects.toThrow(/per-tensor/);
    const res = await exportQuantized(bf16, path.join(root, "m3"), { export: "modelopt", defaultInputScale: 0.01 });
    expect(res.warnings[0]).toMatch(/input_scale 0.01/);
    expect(NemotronH.load(path.join(root, "m3")).logits(prompt).every(Number.isFinite)).toBe(true);
  });
});

describe("FP8 checkpoints in", () => {
  async function rewrite(name: string, fp8: (n: string) => "block" | "bare" | undefined, config?: (c: Record<string, unknown>) => void): Promise<string> {
    const src = Checkpoint.open(bf16), out = path.join(root, name);
    const w = new SafetensorsWriter(out);
    for (const n of src.names()) {
      const t = src.tensor(n), kind = fp8(n);
      if (!kind) { w.add(n, t.dtype, [...t.shape], () => t.bytes()); continue; }
      if (kind === "bare") { w.add(n, "F8_E4M3", [...t.shape], () => encodeFp8(t.values(), "e4m3")); continue; }
      const q = quantizeTensor(t, { granularity: "block", blockSize: 8 });
      w.add(n, "F8_E4M3", [...t.shape], () => q.codes);
      w.add(n.replace(/weight$/, "weight_scale_inv"), "F32", q.scaleShape, () => q.scales);
    }
    await w.write();
    const cfg = JSON.parse(fs.readFileSync(path.join(bf16, "config.json"), "utf8").replace(/\bInfinity\b/g, "1e308"));
    config?.(cfg);
    fs.writeFileSync(path.join(out, "config.json"), JSON.stringify(cfg));
    return out;
  }

  it("DeepSeek-style weight_scale_inv with weight_block_size", async () => {
    const dir = await rewrite("ds-block", (n) => (/in_proj\.weight$/.test(n) ? "block" : undefined),
      (c) => { c.quantization_config = { quant_method: "fp8", weight_block_size: [8, 8] }; });
    const ck = Checkpoint.open(dir);
    expect(ck.weightFormat).toBe("fp8-block");
    const t = ck.tensor("backbone.layers.0.mixer.in_proj.weight");
    const q = quantizeTensor(Checkpoint.open(bf16).tensor(t.name), { granularity: "block", blockSize: 8 });
    expect([t.scale!.blockRows, t.scale!.blockCols]).toEqual([8, 8]);
    expect(same(t.bytes(), q.codes)).toBe(true);
    expect(NemotronH.load(dir).logits(prompt).every(Number.isFinite)).toBe(true);
  });

  it("bare F8_E4M3 weights without a scale", async () => {
    const dir = await rewrite("bare", (n) => (/up_proj\.weight$/.test(n) ? "bare" : undefined));
    const ck = Checkpoint.open(dir);
    expect(ck.weightFormat).toBe("fp8-bare");
    expect(ck.tensor("backbone.layers.1.mixer.up_proj.weight").scale).toBeUndefined();
  });
});
