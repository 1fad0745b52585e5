/**
 * The execution plan of a NemotronH checkpoint: every tensor the forward pass reads, named
 * by its checkpoint path, with the (layer, role, expert) slot the native model binds it to.
 * Roles come from the architecture table (arch.ts); the codes are the native enums.
 */
import { NemotronHConfig } from "./config";
import { ROLE, expectedTensors } from "./arch";

export { BLOCK_KIND, HOOK_POINT, ROLE } from "./arch";
export type { RoleName } from "./arch";

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

/** Every slot of the forward pass, in layer order. A tied head binds the embeddings twice. */
export function executionPlan(c: NemotronHConfig): PlanSlot[] {
  const out: PlanSlot[] = [];
  for (const e of expectedTensors(c)) {
    out.push({ name: e.name, layer: e.layer, role: ROLE[e.role], expert: e.expert, shape: e.shape, linear: e.linear });
    if (e.role === "embed" && c.tie_word_embeddings) {
      out.push({ name: e.name, layer: -1, role: ROLE.lm_head, expert: 0, shape: e.shape, linear: false });
    }
  }
  return out;
}
