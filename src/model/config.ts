/**
 * config.json of NemotronH (model_type "nemotron_h"): parsing (bare Infinity tokens and
 * transformers 5's {"__float__": ...} included), validation with field names in every
 * error, the derived sizes, and the layer plan from hybrid_override_pattern or
 * layers_block_type.
 */
import { CheckpointError } from "../io/errors";
import { parseConfigJson, readConfigJson } from "../io/config-json";

export type BlockKind = "mamba" | "attention" | "mlp" | "moe";

export const PATTERN_CHAR: Readonly<Record<string, BlockKind>> = { M: "mamba", "*": "attention", "-": "mlp", E: "moe" };
const BLOCK_TYPE_NAME: Readonly<Record<string, BlockKind>> = {
  mamba: "mamba", linear_attention: "mamba", attention: "attention", full_attention: "attention", mlp: "mlp", moe: "moe",
};

/** The fields of config.json this project reads, with the names the file uses. */
export interface NemotronHConfig {
  model_type: string;
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  hybrid_override_pattern: string;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  intermediate_size: number;
  mamba_num_heads: number;
  mamba_head_dim: number;
  ssm_state_size: number;
  n_groups: number;
  conv_kernel: number;
  chunk_size: number;
  use_conv_bias: boolean;
  use_bias: boolean;
  mlp_bias: boolean;
  attention_bias: boolean;
  layer_norm_epsilon: number;
  time_step_min: number;
  time_step_max: number;
  time_step_limit: [number, number];
  tie_word_embeddings: boolean;
  mlp_hidden_act: string;
  bos_token_id?: number;
  eos_token_id?: number | number[];
  pad_token_id?: number;
  // MoE (only for "E" blocks)
  n_routed_experts?: number;
  num_experts_per_tok?: number;
  moe_intermediate_size?: number;
  moe_shared_expert_intermediate_size?: number;
  n_group?: number;
  topk_group?: number;
  norm_topk_prob?: boolean;
  routed_scaling_factor?: number;
  moe_latent_size?: number | null;
  quantization_config?: Record<string, unknown>;
  /** Every field of the file, including ones not listed above. */
  raw: Record<string, unknown>;
}

/** Sizes derived from the config (docs/model.md section 1). */
export interface DerivedSizes {
  dInner: number;        // mamba_num_heads * mamba_head_dim (not hidden * expand)
  convDim: number;       // dInner + 2 * n_groups * ssm_state_size
  inProjOut: number;     // dInner + convDim + mamba_num_heads
  headsPerGroup: number;
  normGroupSize: number; // dInner / n_groups
  qDim: number;
  kvDim: number;
  gqaRep: number;
}

export interface LayerPlanEntry {
  index: number;
  kind: BlockKind;
  /** Tensor path prefix of the block, as in the checkpoint: backbone.layers.{i} */
  path: string;
}

function bad(field: string, file: string, msg: string): never {
  throw new CheckpointError("invalid-config", `${file}: field '${field}' ${msg}`, { file, field });
}

export function readConfigFile(file: string): NemotronHConfig {
  return validateConfig(readConfigJson(file), file);
}

export function parseConfig(text: string, file = "config.json"): NemotronHConfig {
  return validateConfig(parseConfigJson(text, file), file);
}

export function validateConfig(raw: Record<string, unknown>, file = "config.json"): NemotronHConfig {
  const int = (field: string, fallback?: number, min = 1): number => {
    const v = raw[field] ?? fallback;
    if (v === undefined) bad(field, file, "is missing (expected an integer)");
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) bad(field, file, `must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    return v;
  };
  const num = (field: string, fallback?: number): number => {
    const v = raw[field] ?? fallback;
    if (typeof v !== "number" || Number.isNaN(v)) bad(field, file, `must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const bool = (field: string, fallback: boolean): boolean => {
    const v = raw[field] ?? fallback;
    if (typeof v !== "boolean") bad(field, file, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  };

  const modelType = raw.model_type;
  if (modelType !== "nemotron_h") bad("model_type", file, `must be "nemotron_h", got ${JSON.stringify(modelType)}`);
  // transformers 5's save_pretrained drops num_hidden_layers; the pattern then says it.
  const numLayers = int("num_hidden_layers", patternLength(raw));
  const pattern = layerPattern(raw, numLayers, file);
  const hidden = int("hidden_size");
  const heads = int("num_attention_heads", 1);
  const headDim = int("head_dim", (raw.attention_head_dim as number | undefined) ?? Math.floor(hidden / heads));
  const limit = raw.time_step_limit ?? [0, Infinity];
  if (!Array.isArray(limit) || limit.length !== 2 || !limit.every((x) => typeof x === "number")) {
    bad("time_step_limit", file, `must be [min, max], got ${JSON.stringify(limit)}`);
  }
  const cfg: NemotronHConfig = {
    model_type: "nemotron_h",
    vocab_size: int("vocab_size"),
    hidden_size: hidden,
    num_hidden_layers: numLayers,
    hybrid_override_pattern: pattern,
    num_attention_heads: heads,
    num_key_value_heads: int("num_key_value_heads", heads),
    head_dim: headDim,
    intermediate_size: int("intermediate_size", 1),
    mamba_num_heads: int("mamba_num_heads", 1),
    mamba_head_dim: int("mamba_head_dim", 1),
    ssm_state_size: int("ssm_state_size", 1),
    n_groups: int("n_groups", 1),
    conv_kernel: int("conv_kernel", 4),
    chunk_size: int("chunk_size", 128),
    use_conv_bias: bool("use_conv_bias", true),
    use_bias: bool("use_bias", false),
    mlp_bias: bool("mlp_bias", false),
    attention_bias: bool("attention_bias", false),
    layer_norm_epsilon: num("layer_norm_epsilon", 1e-5),
    time_step_min: num("time_step_min", 0.001),
    time_step_max: num("time_step_max", 0.1),
    time_step_limit: limit as [number, number],
    tie_word_embeddings: bool("tie_word_embeddings", false),
    mlp_hidden_act: String(raw.mlp_hidden_act ?? "relu2"),
    raw,
  };
  for (const k of ["bos_token_id", "pad_token_id", "n_routed_experts", "num_experts_per_tok", "moe_intermediate_size",
    "moe_shared_expert_intermediate_size", "n_group", "topk_group", "routed_scaling_factor", "moe_latent_size"] as const) {
    if (raw[k] !== undefined && raw[k] !== null) (cfg as unknown as Record<string, unknown>)[k] = raw[k];
  }
  if (raw.eos_token_id !== undefined) cfg.eos_token_id = raw.eos_token_id as number | number[];
  if (raw.norm_topk_prob !== undefined) cfg.norm_topk_prob = Boolean(raw.norm_topk_prob);
  if (raw.quantization_config && typeof raw.quantization_config === "object") {
    cfg.quantization_config = raw.quantization_config as Record<string, unknown>;
  }
  if (cfg.mlp_hidden_act !== "relu2") bad("mlp_hidden_act", file, `must be "relu2" (NemotronH's squared ReLU), got ${JSON.stringify(cfg.mlp_hidden_act)}`);
  if (pattern.includes("M")) {
    if (cfg.mamba_num_heads % cfg.n_groups !== 0) bad("n_groups", file, `(${cfg.n_groups}) must divide mamba_num_heads (${cfg.mamba_num_heads})`);
  }
  if (pattern.includes("*") && cfg.num_attention_heads % cfg.num_key_value_heads !== 0) {
    bad("num_key_value_heads", file, `(${cfg.num_key_value_heads}) must divide num_attention_heads (${cfg.num_attention_heads})`);
  }
  if (pattern.includes("E")) {
    for (const k of ["n_routed_experts", "num_experts_per_tok", "moe_intermediate_size"] as const) {
      if (cfg[k] === undefined) bad(k, file, "is missing (needed by the MoE blocks in the pattern)");
    }
  }
  return cfg;
}

function patternLength(raw: Record<string, unknown>): number | undefined {
  if (typeof raw.hybrid_override_pattern === "string") return raw.hybrid_override_pattern.length;
  if (Array.isArray(raw.layers_block_type)) return raw.layers_block_type.length;
  return undefined;
}

function layerPattern(raw: Record<string, unknown>, numLayers: number, file: string): string {
  let pattern: string;
  if (typeof raw.hybrid_override_pattern === "string") {
    pattern = raw.hybrid_override_pattern;
    const badChar = [...pattern].find((c) => !(c in PATTERN_CHAR));
    if (badChar !== undefined) bad("hybrid_override_pattern", file, `has '${badChar}'; expected only M (mamba), * (attention), - (mlp), E (moe)`);
  } else if (Array.isArray(raw.layers_block_type)) {
    pattern = (raw.layers_block_type as unknown[]).map((t, i) => {
      const kind = typeof t === "string" ? BLOCK_TYPE_NAME[t] : undefined;
      if (!kind) bad("layers_block_type", file, `[${i}] is ${JSON.stringify(t)}; expected mamba, attention, mlp or moe`);
      return Object.entries(PATTERN_CHAR).find(([, k]) => k === kind)![0];
    }).join("");
  } else {
    bad("hybrid_override_pattern", file, "is missing (and so is layers_block_type): cannot tell which layer is which");
  }
  if (pattern.length !== numLayers) {
    bad("hybrid_override_pattern", file, `has ${pattern.length} layers but num_hidden_layers is ${numLayers}`);
  }
  return pattern;
}

export function derivedSizes(c: NemotronHConfig): DerivedSizes {
  const dInner = c.mamba_num_heads * c.mamba_head_dim;
  return {
    dInner,
    convDim: dInner + 2 * c.n_groups * c.ssm_state_size,
    inProjOut: 2 * dInner + 2 * c.n_groups * c.ssm_state_size + c.mamba_num_heads,
    headsPerGroup: c.mamba_num_heads / c.n_groups,
    normGroupSize: dInner / c.n_groups,
    qDim: c.num_attention_heads * c.head_dim,
    kvDim: c.num_key_value_heads * c.head_dim,
    gqaRep: c.num_attention_heads / c.num_key_value_heads,
  };
}

export function layerPlan(c: NemotronHConfig): LayerPlanEntry[] {
  return [...c.hybrid_override_pattern].map((ch, index) => ({ index, kind: PATTERN_CHAR[ch], path: `backbone.layers.${index}` }));
}

/** Eos ids to stop on: the config's, plus Nano-v2's turn end <SPECIAL_12> handled by the tokenizer layer. */
export function eosIds(c: NemotronHConfig): number[] {
  const e = c.eos_token_id;
  return e === undefined ? [] : Array.isArray(e) ? e : [e];
}
