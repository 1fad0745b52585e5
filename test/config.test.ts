import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { Checkpoint, CheckpointError, derivedSizes, expectedTensors, layerPlan, makeTiny, parseConfig, resolveRepoId } from "../src/index";
import { tempDir } from "./helpers";

const REAL = fs.readFileSync(path.join(__dirname, "fixtures", "nemotron-nano-9b-v2.config.json"), "utf8");

describe("config.json of NemotronH", () => {
  it("parses the 9B config with its bare Infinity and derives the sizes of docs/model.md section 1", () => {
    const c = parseConfig(REAL);
    expect(c.time_step_limit).toEqual([0, Infinity]);
    const s = derivedSizes(c);
    expect(s).toMatchObject({ dInner: 10240, convDim: 12288, inProjOut: 22656, headsPerGroup: 16, normGroupSize: 1280, qDim: 5120, kvDim: 1024, gqaRep: 5 });
    const plan = layerPlan(c);
    const idx = (k: string) => plan.filter((l) => l.kind === k).map((l) => l.index);
    expect(idx("attention")).toEqual([14, 21, 30, 39]);
    expect(idx("mamba").length).toBe(27);
    expect(idx("mlp").length).toBe(25);
    expect(plan[12].path).toBe("backbone.layers.12");
    // Parameter count of the spec (section 6), from the architecture table.
    const params = expectedTensors(c).reduce((a, t) => a + t.shape.reduce((x, y) => x * y, 1), 0);
    expect(params).toBe(8_888_227_328);
  });

  it("accepts transformers 5's {\"__float__\": \"Infinity\"} and layers_block_type instead of the pattern", () => {
    const raw = JSON.parse(REAL.replace("Infinity", '{"__float__": "Infinity"}'));
    const kinds = [...raw.hybrid_override_pattern].map((ch: string) => ({ M: "mamba", "*": "attention", "-": "mlp" } as Record<string, string>)[ch]);
    delete raw.hybrid_override_pattern;
    raw.layers_block_type = kinds;
    const c = parseConfig(JSON.stringify(raw));
    expect(c.time_step_limit[1]).toBe(Infinity);
    expect(c.hybrid_override_pattern).toBe(parseConfig(REAL).hybrid_override_pattern);
  });

  it("names the field and what was expected when the config is wrong", () => {
    const bad = (patch: Record<string, unknown>, field: string, msg: RegExp) => {
      const raw = { ...JSON.parse(REAL.replace("Infinity", "1e9")), ...patch };
      try {
        parseConfig(JSON.stringify(raw), "cfg.json");
        throw new Error("no error");
      } catch (e) {
        expect(e).toBeInstanceOf(CheckpointError);
        expect((e as CheckpointError).kind).toBe("invalid-config");
        expect((e as CheckpointError).where.field).toBe(field);
        expect((e as Error).message).toMatch(msg);
      }
    };
    bad({ model_type: "llama" }, "model_type", /cfg\.json.*"nemotron_h"/);
    bad({ num_hidden_layers: 55 }, "hybrid_override_pattern", /56 layers.*55/);
    bad({ hybrid_override_pattern: "M-X" + "-".repeat(53) }, "hybrid_override_pattern", /'X'/);
    bad({ hidden_size: "4480" }, "hidden_size", /integer/);
    bad({ n_groups: 7 }, "n_groups", /divide mamba_num_heads/);
    bad({ mlp_hidden_act: "silu" }, "mlp_hidden_act", /relu2/);
    expect(() => parseConfig("{ not json")).toThrow(/not valid JSON/);
  });
});

describe("checkpoint against its config", () => {
  it("opens a tiny checkpoint and validates every tensor of the layer plan", async () => {
    const d = tempDir();
    await makeTiny(d, { pattern: "M*-E".replace("E", "M") });
    const ck = Checkpoint.open(d);
    expect(ck.plan.map((l) => l.kind)).toEqual(["mamba", "attention", "mlp", "mamba"]);
    expect(ck.tensor("backbone.layers.1.mixer.q_proj.weight").shape).toEqual([128, 128]);
  });

  it("reports missing and mis-shaped tensors by name (config/tensor mismatch)", async () => {
    const d = tempDir();
    await makeTiny(d, { pattern: "M-" });
    const cfgFile = path.join(d, "config.json");
    const cfg = fs.readFileSync(cfgFile, "utf8");
    fs.writeFileSync(cfgFile, cfg.replace('"M-"', '"M*"'));
    expect(() => Checkpoint.open(d)).toThrow(/config-mismatch|missing.*backbone\.layers\.1\.mixer\.q_proj\.weight/);
    fs.writeFileSync(cfgFile, cfg.replace('"intermediate_size": 256', '"intermediate_size": 300'));
    try {
      Checkpoint.open(d);
      throw new Error("no error");
    } catch (e) {
      expect((e as CheckpointError).kind).toBe("config-mismatch");
      expect((e as Error).message).toMatch(/up_proj\.weight is \[256, 128\], config expects \[300, 128\]/);
    }
    expect(Checkpoint.open(d, { validate: false }).names().length).toBeGreaterThan(0);
  });

  it("finds a repo id in the Hugging Face cache (HF_HUB_CACHE and HF_HOME), and says where it looked otherwise", async () => {
    const home = tempDir();
    const repo = path.join(home, "hub", "models--nvidia--Tiny-NemotronH");
    const snap = path.join(repo, "snapshots", "abc123");
    await makeTiny(snap, { pattern: "M-" });
    fs.mkdirSync(path.join(repo, "refs"), { recursive: true });
    fs.writeFileSync(path.join(repo, "refs", "main"), "abc123");
    expect(resolveRepoId("nvidia/Tiny-NemotronH", "main", { HF_HOME: home })).toBe(snap);
    expect(resolveRepoId("nvidia/Tiny-NemotronH", "main", { HF_HUB_CACHE: path.join(home, "hub") })).toBe(snap);
    const old = process.env.HF_HUB_CACHE;
    process.env.HF_HUB_CACHE = path.join(home, "hub");
    try {
      expect(Checkpoint.open("nvidia/Tiny-NemotronH").plan.length).toBe(2);
      expect(() => Checkpoint.open("nvidia/Missing-Model")).toThrow(/models--nvidia--Missing-Model[\s\S]*hf download nvidia\/Missing-Model/);
    } finally {
      if (old === undefined) delete process.env.HF_HUB_CACHE; else process.env.HF_HUB_CACHE = old;
    }
  });
});

describe("checkpoints this project did not write (HF transformers' fixtures)", () => {
  const golden = path.join(__dirname, "fixtures", "golden");
  const cases = fs.readdirSync(golden).filter((c) => fs.existsSync(path.join(golden, c, "config.json")));
  it("opens and validates every golden checkpoint, and detects its weight format", () => {
    expect(cases.length).toBeGreaterThanOrEqual(8);
    const formats: Record<string, string> = {};
    for (const c of cases) {
      const ck = Checkpoint.open(path.join(golden, c));
      expect(ck.plan.length).toBe(ck.config!.num_hidden_layers);
      formats[c] = ck.weightFormat;
      for (const t of ck.tensors.values()) if (t.isFp8) expect(t.scale, `${c}: ${t.name}`).toBeDefined();
    }
    expect(formats.bf16_tied).toBe("dense");
    expect(formats.fp8_block16).toBe("fp8-block");
    expect(formats.fp8_channel_ct).toMatch(/fp8-(compressed-tensors|scaled)/);
  });
});

describe("config.json writing", () => {
  it("writes what Python's json writes: bare Infinity and floats with a decimal point, and parses back", async () => {
    const { configJsonText } = await import("../src/io/config-json");
    const text = configJsonText({ model_type: "nemotron_h", time_step_limit: [0, Infinity], hidden_dropout: 0, vocab_size: 8 });
    expect(text).toMatch(/"time_step_limit": \[\s*0\.0,\s*Infinity\s*\]/);
    expect(text).toMatch(/"hidden_dropout": 0\.0/);
    expect(text).toMatch(/"vocab_size": 8\b/);
    const d = tempDir();
    await makeTiny(d, { pattern: "M-" });
    const c = Checkpoint.open(d).config!;
    expect(parseConfig(configJsonText(c.raw)).raw).toEqual(c.raw);
  });
});
