// The bundled trained model is the default: what bundledModel() returns with no argument, its
// config and tokenizer (Nano-v2 layout, chat template, /think), generation in its languages, and its
// FP8 twin made by our own quantizer in NVIDIA's official layout (nvidia-fp8, per-tensor, ModelOpt).
import * as fs from "fs";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BUNDLED_MODELS, Checkpoint, NANO_V2_PATTERN, NemotronH, TRAINED_MODEL, TextTokenizer, bundledModel, bundledModelDir,
  greedy, stream, windowedPerplexity,
} from "../src/index";
import { ROOT, tempDir } from "./helpers";

const DIR = path.join(ROOT, "models", "nano-fortunes");

describe("the bundled trained model", () => {
  it("is bundledModel()'s default and ships in the package", async () => {
    expect(TRAINED_MODEL).toBe("nano-fortunes");
    expect(await bundledModel()).toBe(DIR);
    expect(bundledModelDir()).toBe(DIR);
    for (const f of ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md", "heldout.txt", "loss.html"]) {
      expect(fs.existsSync(path.join(DIR, f)), f).toBe(true);
    }
    expect(fs.statSync(path.join(DIR, "model.safetensors")).size).toBeLessThanOrEqual(32 * 2 ** 20);
    expect(Object.keys(BUNDLED_MODELS)).toEqual(expect.arrayContaining(["nano-fortunes", "nano-fortunes-fp8", "tiny", "tiny-nano", "tiny-nano-fp8"]));
    await expect(bundledModel("nope" as never)).rejects.toThrow(/no bundled model 'nope'; there are nano-fortunes, nano-fortunes-fp8, tiny/);
  });

  it("has the 9B's schema and full 56-layer pattern, BF16, untied head", () => {
    const ckpt = Checkpoint.open(DIR);
    const c = ckpt.config!;
    expect(c.hybrid_override_pattern).toBe(NANO_V2_PATTERN);
    expect(ckpt.plan.filter((l) => l.kind === "mamba").length).toBe(27);
    expect(ckpt.plan.filter((l) => l.kind === "attention").length).toBe(4);
    expect(ckpt.plan.filter((l) => l.kind === "mlp").length).toBe(25);
    expect(c.tie_word_embeddings).toBe(false);
    expect(ckpt.tensor("lm_head.weight").dtype).toBe("BF16");
    expect(ckpt.tensor("backbone.layers.0.mixer.in_proj.weight").dtype).toBe("BF16");
    // The same keys as the real config.json (JSON.parse cannot read its bare Infinity, hence the replace).
    const keys = (file: string) => Object.keys(JSON.parse(fs.readFileSync(file, "utf8").replace(/\bInfinity\b/g, "null"))).filter((k) => k !== "_comment").sort();
    expect(keys(path.join(DIR, "config.json"))).toEqual(keys(path.join(ROOT, "test", "fixtures", "nemotron-nano-9b-v2.config.json")));
  });

  it("its tokenizer has Nano-v2's special ids and chat template, and /think switches reasoning", () => {
    const tok = TextTokenizer.load(DIR);
    expect(tok.vocabSize).toBe(4096);
    const ids = Object.fromEntries(["<unk>", "<s>", "</s>", "<SPECIAL_10>", "<SPECIAL_11>", "<SPECIAL_12>", "<think>", "</think>"].map((t) => [t, tok.tokenToId(t)]));
    expect(ids).toEqual({ "<unk>": 0, "<s>": 1, "</s>": 2, "<SPECIAL_10>": 10, "<SPECIAL_11>": 11, "<SPECIAL_12>": 12, "<think>": 16, "</think>": 17 });
    expect(tok.encode("Hallo")[0]).toBe(1);  // BOS from the post-processor
    const off = tok.applyChatTemplate([{ role: "user", content: "Erzähl mir einen Spruch. /no_think" }]);
    expect(off).toBe("<SPECIAL_10>System\n\n<SPECIAL_11>User\nErzähl mir einen Spruch.\n<SPECIAL_11>Assistant\n<think></think>");
    expect(tok.applyChatTemplate([{ role: "user", content: "Tell me a fortune." }]).endsWith("<SPECIAL_11>Assistant\n<think>\n")).toBe(true);
    // Accents survive the byte-level round trip; <think> stays in text when specials are skipped.
    const s = "Perché è così? Ça va, señor, Grüße. <think>x</think>";
    expect(tok.decode(tok.encode(s), { skipSpecialTokens: true })).toBe(s);
  });

  it("writes its training languages: greedy continuations are made of words", () => {
    const model = NemotronH.load(DIR);
    const tok = TextTokenizer.load(DIR);
    for (const p of ["The meaning of life is", "Das Leben ist", "La vida es", "La vita è"]) {
      const text = tok.decode(greedy(model, tok.encode(p), 16), { skipSpecialTokens: true });
      expect(text.match(/\p{L}{2,}/gu)?.length ?? 0, `${p}${text}`).toBeGreaterThanOrEqual(3);
    }
  });

  it("chats and streams: the reply ends at <SPECIAL_12> and the pieces add up to the text", async () => {
    const model = NemotronH.load(DIR);
    const tok = TextTokenizer.load(DIR);
    // Sampled (seeded): greedy decoding of so small a model falls into loops before it ends the turn.
    const gen = stream(model, tok, { prompt: "Tell me a fortune.", chat: true, thinking: false, maxTokens: 200, temperature: 0.7, seed: 2 });
    let pieces = "";
    for await (const c of gen) pieces += c.text;
    const r = await gen.result;
    expect(r.promptIds.slice(-2)).toEqual([16, 17]);  // the generation prompt ends with <think></think>
    expect(r.finishReason).toBe("eos");
    expect(r.ids.at(-1)).toBe(12);
    expect(pieces).toBe(r.text);
    expect(r.text!.trim().length).toBeGreaterThan(5);
  });
});

describe("its FP8 twin (nano-fortunes-fp8)", () => {
  let saved: string | undefined;
  let twin: string;
  beforeAll(async () => {
    saved = process.env.NEMOTRON_LAB_MODELS_DIR;
    process.env.NEMOTRON_LAB_MODELS_DIR = tempDir("nl-twin-");
    twin = await bundledModel("nano-fortunes-fp8");
  }, 120_000);
  afterAll(() => {
    if (saved === undefined) delete process.env.NEMOTRON_LAB_MODELS_DIR;
    else process.env.NEMOTRON_LAB_MODELS_DIR = saved;
  });

  it("is made on first use in the models folder, in the official ModelOpt per-tensor layout", () => {
    expect(twin).toBe(path.join(process.env.NEMOTRON_LAB_MODELS_DIR!, "nano-fortunes-fp8"));
    const ckpt = Checkpoint.open(twin);
    expect(ckpt.weightFormat).toBe("fp8-modelopt");
    expect(fs.existsSync(path.join(twin, "hf_quant_config.json"))).toBe(true);
    expect(ckpt.config!.quantization_config).toMatchObject({ quant_method: "modelopt", quant_algo: "FP8" });
    // nvidia-fp8: Mamba in/out_proj and MLP up/down in E4M3 with scalar scales; attention and lm_head in BF16.
    const fp8 = ckpt.names().filter((n) => n.endsWith(".weight") && ckpt.tensor(n).dtype === "F8_E4M3");
    expect(fp8.length).toBe(27 * 2 + 25 * 2);
    for (const n of fp8.slice(0, 3)) {
      expect(ckpt.has(n.replace(/weight$/, "weight_scale")) && ckpt.has(n.replace(/weight$/, "input_scale"))).toBe(true);
    }
    expect(ckpt.tensor("lm_head.weight").dtype).toBe("BF16");
    expect(ckpt.tensor("backbone.layers.14.mixer.q_proj.weight").dtype).toBe("BF16");
  });

  it("is deterministic and stays close to the BF16 model", async () => {
    const again = path.join(tempDir(), "again");
    process.env.NEMOTRON_LAB_MODELS_DIR = path.dirname(again);
    const second = await bundledModel("nano-fortunes-fp8");
    expect(fs.readFileSync(path.join(second, "model.safetensors")).equals(fs.readFileSync(path.join(twin, "model.safetensors")))).toBe(true);
    const tok = TextTokenizer.load(DIR);
    const ids = tok.encode(fs.readFileSync(path.join(DIR, "heldout.txt"), "utf8"), { addSpecialTokens: false }).slice(0, 512);
    const bf16 = windowedPerplexity(NemotronH.load(DIR), ids, { window: 257, prefix: [1] }).perplexity;
    const fp8 = windowedPerplexity(NemotronH.load(twin), ids, { window: 257, prefix: [1] }).perplexity;
    expect(Math.abs(fp8 / bf16 - 1)).toBeLessThan(0.1);
    expect(fp8).not.toBe(bf16);
  });
});
