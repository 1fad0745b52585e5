/**
 * The architecture as data (after llama.cpp's llama-arch): which tensors each NemotronH
 * block kind has and their shapes, derived from the config. The loader checks a
 * checkpoint against this table and fails with the names of missing or mis-shaped tensors.
 */
import { BlockKind, NemotronHConfig, derivedSizes, layerPlan } from "../io/config";

export interface ExpectedTensor {
  name: string;
  shape: number[];
  /** The block it belongs to (-1 for embeddings, final norm and lm_head). */
  layer: number;
  kind: BlockKind | "embedding" | "head";
  /** A linear layer ([out, in] weight) that quantization may target. */
  linear: boolean;
}

export function blockTensors(c: NemotronHConfig, layer: number, kind: BlockKind): ExpectedTensor[] {
  const s = derivedSizes(c);
  const H = c.hidden_size;
  const p = `backbone.layers.${layer}`;
  const t = (suffix: string, shape: number[], linear = false): ExpectedTensor =>
    ({ name: `${p}.${suffix}`, shape, layer, kind, linear });
  const out: ExpectedTensor[] = [t("norm.weight", [H])];
  switch (kind) {
    case "mamba":
      out.push(
        t("mixer.in_proj.weight", [s.inProjOut, H], true),
        t("mixer.conv1d.weight", [s.convDim, 1, c.conv_kernel]),
        t("mixer.A_log", [c.mamba_num_heads]),
        t("mixer.D", [c.mamba_num_heads]),
        t("mixer.dt_bias", [c.mamba_num_heads]),
        t("mixer.norm.weight", [s.dInner]),
        t("mixer.out_proj.weight", [H, s.dInner], true),
      );
      if (c.use_conv_bias) out.push(t("mixer.conv1d.bias", [s.convDim]));
      if (c.use_bias) out.push(t("mixer.in_proj.bias", [s.inProjOut]), t("mixer.out_proj.bias", [H]));
      break;
    case "attention":
      out.push(
        t("mixer.q_proj.weight", [s.qDim, H], true),
        t("mixer.k_proj.weight", [s.kvDim, H], true),
        t("mixer.v_proj.weight", [s.kvDim, H], true),
        t("mixer.o_proj.weight", [H, s.qDim], true),
      );
      if (c.attention_bias) {
        out.push(t("mixer.q_proj.bias", [s.qDim]), t("mixer.k_proj.bias", [s.kvDim]), t("mixer.v_proj.bias", [s.kvDim]), t("mixer.o_proj.bias", [H]));
      }
      break;
    case "mlp":
      out.push(t("mixer.up_proj.weight", [c.intermediate_size, H], true), t("mixer.down_proj.weight", [H, c.intermediate_size], true));
      if (c.mlp_bias) out.push(t("mixer.up_proj.bias", [c.intermediate_size]), t("mixer.down_proj.bias", [H]));
      break;
    case "moe": {
      const E = c.n_routed_experts ?? 0, I = c.moe_intermediate_size ?? 0;
      const latent = c.moe_latent_size ?? 0;
      const inner = latent > 0 ? latent : H;
      out.push(t("mixer.gate.weight", [E, H]), t("mixer.gate.e_score_correction_bias", [E]));
      for (let e = 0; e < E; e++) {
        out.push(t(`mixer.experts.${e}.up_proj.weight`, [I, inner], true), t(`mixer.experts.${e}.down_proj.weight`, [inner, I], true));
      }
      const S = c.moe_shared_expert_intermediate_size ?? 0;
      if (S > 0) out.push(t("mixer.shared_experts.up_proj.weight", [S, H], true), t("mixer.shared_experts.down_proj.weight", [H, S], true));
      if (latent > 0) out.push(t("mixer.fc1_latent_proj.weight", [latent, H], true), t("mixer.fc2_latent_proj.weight", [H, latent], true));
      break;
    }
  }
  return out;
}

/** Every tensor a checkpoint of this config must hold (lm_head omitted when tied). */
export function expectedTensors(c: NemotronHConfig): ExpectedTensor[] {
  const H = c.hidden_size;
  const out: ExpectedTensor[] = [
    { name: "backbone.embeddings.weight", shape: [c.vocab_size, H], layer: -1, kind: "embedding", linear: false },
  ];
  for (const l of layerPlan(c)) out.push(...blockTensors(c, l.index, l.kind));
  out.push({ name: "backbone.norm_f.weight", shape: [H], layer: -1, kind: "head", linear: false });
  if (!c.tie_word_embeddings) out.push({ name: "lm_head.weight", shape: [c.vocab_size, H], layer: -1, kind: "head", linear: true });
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
