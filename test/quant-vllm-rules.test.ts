// Every export the CLI offers, checked against vLLM's NemotronH loading rules
// (test/helpers/vllm-rules.ts cites where each comes from), on tiny random models: the
// default pattern, Nemotron-Nano-9B-v2's own pattern, and an MoE variant.
import { beforeAll, describe, expect, it } from "vitest";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { exportQuantized, makeTiny, NANO_V2_PATTERN } from "../src/index";
import { configJsonText } from "../src/io/config-json";
import { checkVllmLoadable, vllmName } from "./helpers/vllm-rules";

let root: string;
const models: Record<string, Parameters<typeof makeTiny>[1]> = {
  tiny: { seed: 21 },
  nano: { seed: 22, pattern: NANO_V2_PATTERN },
  moe: { seed: 23, pattern: "M-M*-M*E", config: { n_routed_experts: 4, num_experts_per_tok: 2, moe_intermediate_size: 64, moe_shared_expert_intermediate_size: 64, n_shared_experts: 1, n_group: 2, topk_group: 1, norm_topk_prob: true, routed_scaling_factor: 1.5 } },
};

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "nl-vllm-rules-"));
  for (const [name, o] of Object.entries(models)) await makeTiny(path.join(root, name), o);
});

const cases = [
  { export: "compressed-tensors", granularity: "tensor" },
  { export: "compressed-tensors", granularity: "channel" },
  { export: "compressed-tensors", granularity: "block", blockSize: 8 },
  { export: "compressed-tensors", granularity: "channel", activations: "dynamic" },
  { export: "compressed-tensors", granularity: "tensor", activations: "static", defaultInputScale: 0.02 },
  { export: "modelopt", granularity: "tensor", defaultInputScale: 0.02 },
] as const;

describe("exports load under vLLM's NemotronH rules", () => {
  it("the name mapping is vLLM's", () => {
    expect(vllmName("backbone.layers.3.mixer.k_proj.weight")).toBe("model.layers.3.mixer.qkv_proj.weight");
    expect(vllmName("backbone.layers.0.mixer.A_log")).toBe("model.layers.0.mixer.A");
    expect(vllmName("backbone.embeddings.weight")).toBe("model.embed_tokens.weight");
    expect(vllmName("lm_head.weight")).toBe("lm_head.weight");
  });

  for (const model of Object.keys(models)) {
    for (const layers of ["nvidia-fp8", "all-linear"]) {
      for (const c of cases) {
        const label = `${model}, ${layers}, ${c.export} ${c.granularity}${"activations" in c ? ` ${c.activations} activations` : ""}`;
        it(label, async () => {
          const out = path.join(root, label.replace(/[^a-z0-9]+/gi, "-"));
          const res = await exportQuantized(path.join(root, model), out, { ...c, layers });
          expect(checkVllmLoadable(out)).toEqual([]);
          expect(res.quantized).not.toContain("lm_head.weight");
          if (layers === "all-linear") {
            expect(res.keptHighPrecision.map((k) => k.name)).toEqual(["lm_head.weight"]);
            expect(res.warnings.join("\n")).toMatch(/lm_head\.weight kept in high precision: vLLM/);
          }
        });
      }
    }
  }

  it("the rules catch what vLLM refuses", async () => {
    const out = path.join(root, "broken");
    await exportQuantized(path.join(root, "tiny"), out, { export: "compressed-tensors", layers: "nvidia-fp8", granularity: "block", blockSize: 8 });
    const cfgPath = path.join(out, "config.json");
    const text = fs.readFileSync(cfgPath, "utf8");
    const cfg = JSON.parse(text.replace(/\bInfinity\b/g, "1e999"));
    cfg.quantization_config.config_groups.group_0.input_activations = null;
    cfg.quantization_config.ignore = cfg.quantization_config.ignore.filter((m: string) => m !== "backbone.layers.3.mixer.k_proj" && m !== "lm_head");
    fs.writeFileSync(cfgPath, configJsonText(cfg));
    const problems = checkVllmLoadable(out).join("\n");
    expect(problems).toMatch(/R5: block weights without input_activations/);
    expect(problems).toMatch(/R4: model.layers.3.mixer.qkv_proj: fused shards ignored unevenly/);
    expect(problems).toMatch(/lm_head is not listed in ignore/);
  });
});
