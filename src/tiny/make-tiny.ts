/**
 * make-tiny: a small random NemotronH checkpoint with the real config.json fields and
 * tensor names, so everything can be exercised without the real 9B weights. Scales
 * follow the model's initialisation (docs/model.md section 9): A_log = log U(1, 16), dt_bias =
 * softplus^-1 of a log-uniform dt in [time_step_min, time_step_max], D = 1, norms near 1,
 * linears N(0, initializer_range), residual projections scaled by 1/sqrt(2 * layers).
 */
import * as fs from "fs";
import * as path from "path";
import { DType } from "../tensor/dtype";
import { NemotronHConfig, validateConfig } from "../model/config";
import { configJsonText } from "../io/config-json";
import { expectedTensors, ExpectedTensor } from "../model/arch";
import { SafetensorsWriter } from "../io/writer";
import { Rng } from "../util/random";
import { float32ToBf16 } from "../tensor/convert";
import { encodeFp8 } from "../fp8/codec";
import { writeTinyTokenizer, TINY_TOKENIZER_MIN_VOCAB } from "./tokenizer";

export type TinyDType = "f32" | "bf16" | "f8e4m3";

export interface TinyOptions {
  pattern?: string;
  dtype?: TinyDType;
  seed?: number;
  /** Overrides of config.json fields (sizes, chunk_size, ...). */
  config?: Record<string, unknown>;
  /** Shard the weights when a file would pass this many bytes. */
  maxShardBytes?: number;
  signal?: AbortSignal;
}

/** The default tiny geometry: every block kind, GQA, several Mamba groups. */
export const TINY_DEFAULTS = {
  vocab_size: 1024,
  hidden_size: 128,
  hybrid_override_pattern: "M-M*-M",
  num_attention_heads: 4,
  num_key_value_heads: 2,
  head_dim: 32,
  intermediate_size: 256,
  mamba_num_heads: 8,
  mamba_head_dim: 16,
  ssm_state_size: 16,
  n_groups: 2,
  conv_kernel: 4,
  chunk_size: 16,
};

/** A full config.json object in the real file's schema, with tiny sizes. */
export function tinyConfig(options: TinyOptions = {}): Record<string, unknown> {
  const o = { ...TINY_DEFAULTS, ...(options.pattern ? { hybrid_override_pattern: options.pattern } : {}), ...options.config };
  const pattern = String(o.hybrid_override_pattern);
  return {
    architectures: ["NemotronHForCausalLM"],
    model_type: "nemotron_h",
    vocab_size: o.vocab_size,
    hidden_size: o.hidden_size,
    num_hidden_layers: pattern.length,
    hybrid_override_pattern: pattern,
    num_attention_heads: o.num_attention_heads,
    num_key_value_heads: o.num_key_value_heads,
    head_dim: o.head_dim,
    attention_bias: false,
    attention_dropout: 0.0,
    sliding_window: null,
    max_position_embeddings: 4096,
    intermediate_size: o.intermediate_size,
    mlp_hidden_act: "relu2",
    mlp_bias: false,
    mamba_num_heads: o.mamba_num_heads,
    mamba_head_dim: o.mamba_head_dim,
    ssm_state_size: o.ssm_state_size,
    n_groups: o.n_groups,
    conv_kernel: o.conv_kernel,
    chunk_size: o.chunk_size,
    expand: 2,
    mamba_hidden_act: "silu",
    use_conv_bias: true,
    use_bias: false,
    mamba_proj_bias: false,
    time_step_min: 0.001,
    time_step_max: 0.1,
    time_step_floor: 0.0001,
    time_step_limit: [0.0, Infinity],
    layer_norm_epsilon: 1e-5,
    residual_in_fp32: false,
    rescale_prenorm_residual: true,
    initializer_range: 0.02,
    hidden_dropout: 0.0,
    tie_word_embeddings: false,
    use_cache: true,
    num_logits_to_keep: 1,
    bos_token_id: 1,
    eos_token_id: 12,
    pad_token_id: 0,
    torch_dtype: options.dtype === "f32" ? "float32" : "bfloat16",
    ...Object.fromEntries(Object.entries(options.config ?? {}).filter(([k]) => !(k in TINY_DEFAULTS))),
  };
}


/** Random values for one tensor, by what the tensor is. */
export function initTensor(e: ExpectedTensor, c: NemotronHConfig, rng: Rng): Float32Array {
  const n = e.shape.reduce((a, b) => a * b, 1);
  const leaf = e.name.split(".").slice(-2).join(".");
  const std = 0.02;
  const residualStd = std / Math.sqrt(2 * c.num_hidden_layers);
  if (e.name === "backbone.embeddings.weight") return rng.normalArray(n, 1.0);
  if (leaf.endsWith("norm.weight") || e.name.endsWith("norm_f.weight")) return rng.normalArray(n, 0.1, 1.0);
  if (leaf === "mixer.A_log") return Float32Array.from({ length: n }, () => Math.log(1 + 15 * rng.uniform()));
  if (leaf === "mixer.D") return rng.normalArray(n, 0.1, 1.0);
  if (leaf === "mixer.dt_bias") {
    return Float32Array.from({ length: n }, () => {
      const dt = Math.exp(Math.log(c.time_step_min) + rng.uniform() * (Math.log(c.time_step_max) - Math.log(c.time_step_min)));
      return dt + Math.log(-Math.expm1(-dt));  // softplus^-1(dt)
    });
  }
  if (leaf === "conv1d.weight") return rng.uniformArray(n, -1 / Math.sqrt(c.conv_kernel), 1 / Math.sqrt(c.conv_kernel));
  if (leaf === "conv1d.bias") return rng.uniformArray(n, -0.1, 0.1);
  if (e.name.endsWith(".bias")) return new Float32Array(n);
  if (/(out_proj|down_proj|o_proj)\.weight$/.test(e.name)) return rng.normalArray(n, residualStd * 8);
  if (e.name === "lm_head.weight") return rng.normalArray(n, 1 / Math.sqrt(c.hidden_size));
  return rng.normalArray(n, std * 4);
}

/** Writes config.json and the weights of a tiny random NemotronH into dir. */
export async function makeTiny(dir: string, options: TinyOptions = {}): Promise<NemotronHConfig> {
  const dtype = options.dtype ?? "bf16";
  if (!["f32", "bf16", "f8e4m3"].includes(dtype)) throw new Error(`make-tiny: --dtype must be f32, bf16 or f8e4m3, got ${JSON.stringify(dtype)}`);
  const raw = tinyConfig(options);
  const config = validateConfig(raw, path.join(dir, "config.json"));
  const rng = new Rng(options.seed ?? 0);
  fs.mkdirSync(dir, { recursive: true });
  const writer = new SafetensorsWriter(dir, { maxShardBytes: options.maxShardBytes, metadata: { format: "pt" }, signal: options.signal, label: "make-tiny" });
  // Values are drawn in declaration order when the writer asks for them, so the seed
  // fixes every tensor whether or not the file is sharded.
  for (const e of expectedTensors(config)) {
    const storeFp8 = dtype === "f8e4m3" && e.linear && e.name !== "lm_head.weight";
    if (storeFp8) {
      let scale = 1;
      const codes = () => {
        const v = initTensor(e, config, rng);
        let amax = 0;
        for (let i = 0; i < v.length; i++) amax = Math.max(amax, Math.abs(v[i]));
        scale = amax > 0 ? amax / 448 : 1;
        return encodeFp8(v, "e4m3", { multiplier: 1 / scale });
      };
      writer.add(e.name, "F8_E4M3", e.shape, codes);
      writer.add(e.name.replace(/\.weight$/, ".weight_scale"), "F32", [], () => new Float32Array([scale]));
    } else {
      const stored: DType = dtype === "f32" ? "F32" : "BF16";
      writer.add(e.name, stored, e.shape, () => {
        const v = initTensor(e, config, rng);
        return stored === "F32" ? v : float32ToBf16(v);
      });
    }
  }
  if (dtype === "f8e4m3") {
    raw.quantization_config = { quant_method: "modelopt", quant_algo: "FP8", kv_cache_quant_algo: null, exclude_modules: ["lm_head"] };
  }
  fs.writeFileSync(path.join(dir, "config.json"), configJsonText(raw));
  // A complete checkpoint has a tokenizer; vocabularies too small for the byte alphabet go without.
  if (config.vocab_size >= TINY_TOKENIZER_MIN_VOCAB) writeTinyTokenizer(dir, config.vocab_size);
  await writer.write();
  if (dtype === "f8e4m3") {
    fs.writeFileSync(path.join(dir, "hf_quant_config.json"), JSON.stringify({
      producer: { name: "nemotron-lab", version: "0.1.0" },
      quantization: { quant_algo: "FP8", kv_cache_quant_algo: null, exclude_modules: ["lm_head"] },
    }, null, 2) + "\n");
  }
  return config;
}
