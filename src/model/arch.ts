/**
 * The architecture as data (after llama.cpp's llama-arch): for each NemotronH block kind,
 * its tensors (checkpoint suffix, shape from the config, the native role it binds to) and
 * its hook points (name suffix, native hook point, shape for T tokens). One table serves
 * the loader's validation, the execution plan, the hooks of the TypeScript API and the
 * CLI, and the README's hook list. The codes (ROLE, BLOCK_KIND, HOOK_POINT) are the native
 * enums of native/src/model/nemotron_h.h; test/arch.test.ts checks both sides agree.
 */
import { BlockKind, DerivedSizes, NemotronHConfig, derivedSizes, layerPlan } from "./config";

export const ROLE = {
  norm: 0, in_proj: 1, in_proj_b: 2, conv_w: 3, conv_b: 4, A_log: 5, D: 6, dt_bias: 7, mixer_norm: 8, out_proj: 9,
  out_proj_b: 10, q: 11, q_b: 12, k: 13, k_b: 14, v: 15, v_b: 16, o: 17, o_b: 18, up: 19, up_b: 20, down: 21, down_b: 22,
  gate: 23, gate_bias: 24, shared_up: 25, shared_down: 26, fc1_latent: 27, fc2_latent: 28, expert_up: 29,
  expert_down: 30, embed: 31, norm_f: 32, lm_head: 33,
} as const;
export type RoleName = keyof typeof ROLE;

export const BLOCK_KIND: Readonly<Record<BlockKind, number>> = { mamba: 0, attention: 1, mlp: 2, moe: 3 };

export const HOOK_POINT = {
  block: 0, mixer: 1, norm: 2, embed: 3, norm_f: 4,
  in_proj: 5, conv1d: 6, x: 7, B: 8, C: 9, dt: 10, ssm_state: 11, y: 12, mixer_norm: 13, effective_attention: 14,
  q: 15, k: 16, v: 17, pattern: 18, z: 19,
  up_proj: 20, act: 21,
} as const;
export type HookPointName = keyof typeof HOOK_POINT;

/** One tensor of a block kind. */
export interface TensorEntry {
  /** Path after `backbone.layers.{i}.`; `{e}` stands for the expert index. */
  suffix: string;
  role: RoleName;
  shape: (c: NemotronHConfig, s: DerivedSizes) => number[];
  /** A linear layer ([out, in] weight) that quantization may target. */
  linear?: boolean;
  /** Present only when the config says so (biases, shared experts, latent projections). */
  when?: (c: NemotronHConfig) => boolean;
  /** One tensor per routed expert. */
  perExpert?: boolean;
}

/** One hook point: where the native forward can record or rewrite an activation. */
export interface HookEntry {
  /** Name after `backbone.layers.{i}` ("" is the block's output); model-level hooks have their full name. */
  suffix: string;
  point: HookPointName;
  /** Shape for T tokens. */
  shape: (c: NemotronHConfig, s: DerivedSizes, T: number) => number[];
  doc: string;
  /** Large: selected only by a name or glob that spells it out (never by `*` alone). */
  optIn?: boolean;
  /** Derived or per-token state: recorded, never patched. */
  readOnly?: boolean;
  /** [heads, T, T]: needs a fresh full pass, O(T²) per head. */
  square?: boolean;
}

export interface BlockKindEntry {
  code: number;
  tensors: TensorEntry[];
  /** Hooks inside the mixer (the block-level ones, BLOCK_HOOKS, are shared by every kind). */
  hooks: HookEntry[];
}

const H = (c: NemotronHConfig) => c.hidden_size;
const bias = (flag: "use_bias" | "mlp_bias" | "attention_bias") => (c: NemotronHConfig) => c[flag];

/** Hooks every block has, in the order the forward reaches them. */
export const BLOCK_HOOKS: readonly HookEntry[] = [
  { suffix: ".norm", point: "norm", shape: (c, _s, T) => [T, H(c)], doc: "mixer input (RMSNorm of the residual stream)" },
  { suffix: ".mixer", point: "mixer", shape: (c, _s, T) => [T, H(c)], doc: "mixer output, added to the residual stream" },
  { suffix: "", point: "block", shape: (c, _s, T) => [T, H(c)], doc: "residual stream after the block" },
];

/** Hooks outside the blocks: embeddings before layer 0, norm_f after the last layer, and the logits. */
export const MODEL_HOOKS: readonly (HookEntry & { name: string })[] = [
  { name: "backbone.embeddings", suffix: "", point: "embed", shape: (c, _s, T) => [T, H(c)], doc: "token embeddings (residual stream before layer 0)" },
  { name: "backbone.norm_f", suffix: "", point: "norm_f", shape: (c, _s, T) => [T, H(c)], doc: "final RMSNorm output (lm_head input)" },
];
/** The logits are the forward's output; recorded by the TypeScript side, never patched. */
export const LOGITS_HOOK = "logits";

export const ARCHITECTURE: Readonly<Record<BlockKind, BlockKindEntry>> = {
  mamba: {
    code: BLOCK_KIND.mamba,
    tensors: [
      { suffix: "mixer.in_proj.weight", role: "in_proj", shape: (c, s) => [s.inProjOut, H(c)], linear: true },
      { suffix: "mixer.conv1d.weight", role: "conv_w", shape: (c, s) => [s.convDim, 1, c.conv_kernel] },
      { suffix: "mixer.A_log", role: "A_log", shape: (c) => [c.mamba_num_heads] },
      { suffix: "mixer.D", role: "D", shape: (c) => [c.mamba_num_heads] },
      { suffix: "mixer.dt_bias", role: "dt_bias", shape: (c) => [c.mamba_num_heads] },
      { suffix: "mixer.norm.weight", role: "mixer_norm", shape: (_c, s) => [s.dInner] },
      { suffix: "mixer.out_proj.weight", role: "out_proj", shape: (c, s) => [H(c), s.dInner], linear: true },
      { suffix: "mixer.conv1d.bias", role: "conv_b", shape: (_c, s) => [s.convDim], when: (c) => c.use_conv_bias },
      { suffix: "mixer.in_proj.bias", role: "in_proj_b", shape: (_c, s) => [s.inProjOut], when: bias("use_bias") },
      { suffix: "mixer.out_proj.bias", role: "out_proj_b", shape: (c) => [H(c)], when: bias("use_bias") },
    ],
    hooks: [
      { suffix: ".mixer.in_proj", point: "in_proj", shape: (_c, s, T) => [T, s.inProjOut], doc: "in_proj output, raw: z | xBC | dt" },
      { suffix: ".mixer.conv1d", point: "conv1d", shape: (_c, s, T) => [T, s.convDim], doc: "xBC after the causal conv, bias and SiLU" },
      { suffix: ".mixer.x", point: "x", shape: (c, _s, T) => [T, c.mamba_num_heads, c.mamba_head_dim], doc: "the scan input x, per head" },
      { suffix: ".mixer.B", point: "B", shape: (c, _s, T) => [T, c.n_groups, c.ssm_state_size], doc: "input matrix B per group" },
      { suffix: ".mixer.C", point: "C", shape: (c, _s, T) => [T, c.n_groups, c.ssm_state_size], doc: "output matrix C per group" },
      { suffix: ".mixer.dt", point: "dt", shape: (c, _s, T) => [T, c.mamba_num_heads], doc: "softplus(dt + dt_bias), clamped to time_step_limit (and dtClamp)" },
      { suffix: ".mixer.effective_attention", point: "effective_attention", shape: (c, _s, T) => [c.mamba_num_heads, T, T],
        doc: "M[h,t,s] = (C_t·B_s)·exp(Σ_{k=s+1..t} dt_k·A_h)·dt_s (s ≤ t): y = M·x + D·x; O(T²) per head", optIn: true, readOnly: true, square: true },
      { suffix: ".mixer.ssm_state", point: "ssm_state", shape: (c, _s, T) => [T, c.mamba_num_heads, c.mamba_head_dim, c.ssm_state_size],
        doc: "the SSM state after each token (the scan then runs token by token)", optIn: true, readOnly: true },
      { suffix: ".mixer.y", point: "y", shape: (_c, s, T) => [T, s.dInner], doc: "scan output including D·x, before the gate" },
      { suffix: ".mixer.norm", point: "mixer_norm", shape: (_c, s, T) => [T, s.dInner], doc: "gated RMSNorm output (out_proj input)" },
    ],
  },
  attention: {
    code: BLOCK_KIND.attention,
    tensors: [
      { suffix: "mixer.q_proj.weight", role: "q", shape: (c, s) => [s.qDim, H(c)], linear: true },
      { suffix: "mixer.k_proj.weight", role: "k", shape: (c, s) => [s.kvDim, H(c)], linear: true },
      { suffix: "mixer.v_proj.weight", role: "v", shape: (c, s) => [s.kvDim, H(c)], linear: true },
      { suffix: "mixer.o_proj.weight", role: "o", shape: (c, s) => [H(c), s.qDim], linear: true },
      { suffix: "mixer.q_proj.bias", role: "q_b", shape: (_c, s) => [s.qDim], when: bias("attention_bias") },
      { suffix: "mixer.k_proj.bias", role: "k_b", shape: (_c, s) => [s.kvDim], when: bias("attention_bias") },
      { suffix: "mixer.v_proj.bias", role: "v_b", shape: (_c, s) => [s.kvDim], when: bias("attention_bias") },
      { suffix: "mixer.o_proj.bias", role: "o_b", shape: (c) => [H(c)], when: bias("attention_bias") },
    ],
    hooks: [
      { suffix: ".mixer.q", point: "q", shape: (c, _s, T) => [T, c.num_attention_heads, c.head_dim], doc: "queries (no positional encoding)" },
      { suffix: ".mixer.k", point: "k", shape: (c, _s, T) => [T, c.num_key_value_heads, c.head_dim], doc: "keys, as they enter the KV cache" },
      { suffix: ".mixer.v", point: "v", shape: (c, _s, T) => [T, c.num_key_value_heads, c.head_dim], doc: "values, as they enter the KV cache" },
      { suffix: ".mixer.pattern", point: "pattern", shape: (c, _s, T) => [c.num_attention_heads, T, T],
        doc: "softmax probabilities per query head (0 above the diagonal)", readOnly: true, square: true },
      { suffix: ".mixer.z", point: "z", shape: (_c, s, T) => [T, s.qDim], doc: "attention output per head, concatenated (o_proj input)" },
    ],
  },
  mlp: {
    code: BLOCK_KIND.mlp,
    tensors: [
      { suffix: "mixer.up_proj.weight", role: "up", shape: (c) => [c.intermediate_size, H(c)], linear: true },
      { suffix: "mixer.down_proj.weight", role: "down", shape: (c) => [H(c), c.intermediate_size], linear: true },
      { suffix: "mixer.up_proj.bias", role: "up_b", shape: (c) => [c.intermediate_size], when: bias("mlp_bias") },
      { suffix: "mixer.down_proj.bias", role: "down_b", shape: (c) => [H(c)], when: bias("mlp_bias") },
    ],
    hooks: [
      { suffix: ".mixer.up_proj", point: "up_proj", shape: (c, _s, T) => [T, c.intermediate_size], doc: "up_proj output (pre-activation)" },
      { suffix: ".mixer.act", point: "act", shape: (c, _s, T) => [T, c.intermediate_size], doc: "ReLU² of it (down_proj input)" },
    ],
  },
  moe: {
    code: BLOCK_KIND.moe,
    tensors: [
      { suffix: "mixer.gate.weight", role: "gate", shape: (c) => [c.n_routed_experts ?? 0, H(c)] },
      { suffix: "mixer.gate.e_score_correction_bias", role: "gate_bias", shape: (c) => [c.n_routed_experts ?? 0] },
      { suffix: "mixer.experts.{e}.up_proj.weight", role: "expert_up", perExpert: true, linear: true,
        shape: (c) => [c.moe_intermediate_size ?? 0, moeInner(c)] },
      { suffix: "mixer.experts.{e}.down_proj.weight", role: "expert_down", perExpert: true, linear: true,
        shape: (c) => [moeInner(c), c.moe_intermediate_size ?? 0] },
      { suffix: "mixer.shared_experts.up_proj.weight", role: "shared_up", linear: true, when: sharedExperts,
        shape: (c) => [c.moe_shared_expert_intermediate_size ?? 0, H(c)] },
      { suffix: "mixer.shared_experts.down_proj.weight", role: "shared_down", linear: true, when: sharedExperts,
        shape: (c) => [H(c), c.moe_shared_expert_intermediate_size ?? 0] },
      { suffix: "mixer.fc1_latent_proj.weight", role: "fc1_latent", linear: true, when: latent, shape: (c) => [c.moe_latent_size ?? 0, H(c)] },
      { suffix: "mixer.fc2_latent_proj.weight", role: "fc2_latent", linear: true, when: latent, shape: (c) => [H(c), c.moe_latent_size ?? 0] },
    ],
    hooks: [],
  },
};

function latent(c: NemotronHConfig): boolean {
  return (c.moe_latent_size ?? 0) > 0;
}
function moeInner(c: NemotronHConfig): number {
  return latent(c) ? c.moe_latent_size! : H(c);
}
function sharedExperts(c: NemotronHConfig): boolean {
  return (c.moe_shared_expert_intermediate_size ?? 0) > 0;
}

export interface ExpectedTensor {
  name: string;
  shape: number[];
  /** The block it belongs to (-1 for embeddings, final norm and lm_head). */
  layer: number;
  kind: BlockKind | "embedding" | "head";
  /** A linear layer ([out, in] weight) that quantization may target. */
  linear: boolean;
  /** The native slot it binds to. */
  role: RoleName;
  /** The routed expert (MoE), else 0. */
  expert: number;
}

export function blockTensors(c: NemotronHConfig, layer: number, kind: BlockKind): ExpectedTensor[] {
  const s = derivedSizes(c);
  const p = `backbone.layers.${layer}`;
  const out: ExpectedTensor[] = [{ name: `${p}.norm.weight`, shape: [H(c)], layer, kind, linear: false, role: "norm", expert: 0 }];
  for (const e of ARCHITECTURE[kind].tensors) {
    if (e.when && !e.when(c)) continue;
    const experts = e.perExpert ? c.n_routed_experts ?? 0 : 1;
    for (let x = 0; x < experts; x++) {
      out.push({ name: `${p}.${e.suffix.replace("{e}", String(x))}`, shape: e.shape(c, s), layer, kind,
        linear: e.linear ?? false, role: e.role, expert: x });
    }
  }
  return out;
}

/** Every tensor a checkpoint of this config must hold (lm_head omitted when tied). */
export function expectedTensors(c: NemotronHConfig): ExpectedTensor[] {
  const h = H(c);
  const out: ExpectedTensor[] = [
    { name: "backbone.embeddings.weight", shape: [c.vocab_size, h], layer: -1, kind: "embedding", linear: false, role: "embed", expert: 0 },
  ];
  for (const l of layerPlan(c)) out.push(...blockTensors(c, l.index, l.kind));
  out.push({ name: "backbone.norm_f.weight", shape: [h], layer: -1, kind: "head", linear: false, role: "norm_f", expert: 0 });
  if (!c.tie_word_embeddings) out.push({ name: "lm_head.weight", shape: [c.vocab_size, h], layer: -1, kind: "head", linear: true, role: "lm_head", expert: 0 });
  return out;
}

/** One hook point of a model: its name (a checkpoint module path), where it sits and its table entry. */
export interface ModelHook {
  name: string;
  /** -1: embeddings; num_hidden_layers: norm_f. */
  layer: number;
  kind: BlockKind | "embedding" | "head";
  entry: HookEntry;
}

/** Every hook point of a model of this config, in forward order (logits not included). */
export function modelHooks(c: NemotronHConfig): ModelHook[] {
  const out: ModelHook[] = [{ name: MODEL_HOOKS[0].name, layer: -1, kind: "embedding", entry: MODEL_HOOKS[0] }];
  for (const l of layerPlan(c)) {
    const [norm, mixer, block] = BLOCK_HOOKS;
    for (const e of [norm, ...ARCHITECTURE[l.kind].hooks, mixer, block]) out.push({ name: `${l.path}${e.suffix}`, layer: l.index, kind: l.kind, entry: e });
  }
  out.push({ name: MODEL_HOOKS[1].name, layer: c.num_hidden_layers, kind: "head", entry: MODEL_HOOKS[1] });
  return out;
}

/** Other spellings of the same tensor seen in NemotronH checkpoints, tried in order. */
export function nameAliases(name: string): string[] {
  const out = [name];
  if (name === "backbone.embeddings.weight") out.push("backbone.embedding.weight");
  if (name.startsWith("backbone.")) {
    const m = "model." + name.slice("backbone.".length);
    out.push(m === "model.embeddings.weight" ? "model.embed_tokens.weight" : m);
  }
  return out;
}
