/**
 * The execution plan of a NemotronH checkpoint: every tensor the forward pass reads, named
 * by its checkpoint path, with the (layer, role, expert) slot the native model binds it to.
 * ROLE mirrors `enum Role` in native/src/model/nemotron_h.h; BLOCK_KIND mirrors `enum Kind`;
 * HOOK_POINT mirrors `enum HookPoint`.
 */
import { BlockKind, NemotronHConfig } from "../io/config";
import { expectedTensors } from "./arch";

export const ROLE = {
  norm: 0, in_proj: 1, in_proj_b: 2, conv_w: 3, conv_b: 4, A_log: 5, D: 6, dt_bias: 7, mixer_norm: 8, out_proj: 9,
  out_proj_b: 10, q: 11, q_b: 12, k: 13, k_b: 14, v: 15, v_b: 16, o: 17, o_b: 18, up: 19, up_b: 20, down: 21, down_b: 22,
  gate: 23, gate_bias: 24, shared_up: 25, shared_down: 26, fc1_latent: 27, fc2_latent: 28, expert_up: 29,
  expert_down: 30, embed: 31, norm_f: 32, lm_head: 33,
} as const;
export type RoleName = keyof typeof ROLE;

export const BLOCK_KIND: Readonly<Record<BlockKind, number>> = { mamba: 0, attention: 1, mlp: 2, moe: 3 };
export const HOOK_POINT = { block: 0, mixer: 1, norm: 2, embed: 3, norm_f: 4 } as const;

/** One tensor of the plan and where it is bound. */
export interface PlanSlot {
  /** The checkpoint tensor path, e.g. backbone.layers.0.mixer.in_proj.weight */
  name: string;
  layer: number;
  role: number;
  expert: number;
  shape: number[];
  /** A linear layer's [out, in] weight (a quantization target). */
  linear: boolean;
}

// Suffix after `backbone.layers.{i}.` → role.
const SUFFIX_ROLE: Record<string, RoleName> = {
  "norm.weight": "norm",
  "mixer.in_proj.weight": "in_proj", "mixer.in_proj.bias": "in_proj_b",
  "mixer.conv1d.weight": "conv_w", "mixer.conv1d.bias": "conv_b",
  "mixer.A_log": "A_log", "mixer.D": "D", "mixer.dt_bias": "dt_bias", "mixer.norm.weight": "mixer_norm",
  "mixer.out_proj.weight": "out_proj", "mixer.out_proj.bias": "out_proj_b",
  "mixer.q_proj.weight": "q", "mixer.q_proj.bias": "q_b", "mixer.k_proj.weight": "k", "mixer.k_proj.bias": "k_b",
  "mixer.v_proj.weight": "v", "mixer.v_proj.bias": "v_b", "mixer.o_proj.weight": "o", "mixer.o_proj.bias": "o_b",
  "mixer.up_proj.weight": "up", "mixer.up_proj.bias": "up_b", "mixer.down_proj.weight": "down", "mixer.down_proj.bias": "down_b",
  "mixer.gate.weight": "gate", "mixer.gate.e_score_correction_bias": "gate_bias",
  "mixer.shared_experts.up_proj.weight": "shared_up", "mixer.shared_experts.down_proj.weight": "shared_down",
  "mixer.fc1_latent_proj.weight": "fc1_latent", "mixer.fc2_latent_proj.weight": "fc2_latent",
};

/** Every slot of the forward pass, in layer order. A tied head binds the embeddings twice. */
export function executionPlan(c: NemotronHConfig): PlanSlot[] {
  const out: PlanSlot[] = [];
  for (const e of expectedTensors(c)) {
    const slot = (layer: number, role: RoleName, expert = 0): PlanSlot =>
      ({ name: e.name, layer, role: ROLE[role], expert, shape: e.shape, linear: e.linear });
    if (e.name === "backbone.embeddings.weight") {
      out.push(slot(-1, "embed"));
      if (c.tie_word_embeddings) out.push({ ...slot(-1, "lm_head"), linear: false });
      continue;
    }
    if (e.name === "backbone.norm_f.weight") { out.push(slot(-1, "norm_f")); continue; }
    if (e.name === "lm_head.weight") { out.push(slot(-1, "lm_head")); continue; }
    const m = /^backbone\.layers\.(\d+)\.(.+)$/.exec(e.name);
    if (!m) throw new Error(`plan: unexpected tensor ${e.name}`);
    const layer = Number(m[1]);
    const ex = /^mixer\.experts\.(\d+)\.(up|down)_proj\.weight$/.exec(m[2]);
    if (ex) { out.push(slot(layer, ex[2] === "up" ? "expert_up" : "expert_down", Number(ex[1]))); continue; }
    const role = SUFFIX_ROLE[m[2]];
    if (!role) throw new Error(`plan: no role for ${e.name}`);
    out.push(slot(layer, role));
  }
  return out;
}
