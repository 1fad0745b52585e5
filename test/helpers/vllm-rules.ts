/**
 * vLLM's loading rules for a NemotronH FP8 checkpoint, written down from vLLM's public code so
 * our exports are checked against them without vLLM installed. Each rule names the file and
 * function it comes from (vllm/model_executor/...):
 *
 *  R1 models/nemotron_h.py NemotronHForCausalLM.hf_to_vllm_mapper: prefix backbone -> model,
 *     substrings A_log -> A and embeddings -> embed_tokens, q/k/v_proj stacked into qkv_proj.
 *  R2 models/nemotron_h.py (NemotronH{Mamba,Attention,MLP,MoE}DecoderLayer, NemotronHModel,
 *     NemotronHForCausalLM.__init__): the parameters the model has; models/utils.py
 *     AutoWeightsLoader.load_weights raises on a checkpoint tensor with no parameter, and every
 *     parameter is loaded once. Shared experts exist only when config.n_shared_experts > 0.
 *  R3 which layers take the quant config: the LinearBase layers (in_proj, out_proj, qkv_proj,
 *     o_proj, up/down_proj, shared experts, latent projections) and FusedMoE experts;
 *     layers/mamba/mamba_mixer2.py builds conv1d with quant_config=None; fused_moe GateLinear
 *     (the router) takes none; ParallelLMHead is not quantized by the compressed-tensors or
 *     ModelOpt FP8 linear methods, so lm_head.weight_scale would be an unknown parameter.
 *  R4 layers/quantization/compressed_tensors/compressed_tensors.py should_ignore_layer (and
 *     modelopt.py is_layer_excluded): a layer is unquantized iff named in ignore /
 *     exclude_modules (HF names, mapped by R1); the shards of a fused layer (q/k/v) must be all
 *     ignored or none ("Found a different quantization schemes").
 *  R5 compressed_tensors.py _get_scheme_from_parts: weights FP8 with input_activations null ->
 *     CompressedTensorsW8A16Fp8 (block weights assert there); with FP8 input activations ->
 *     _is_fp8_w8a8 (strategy tensor, channel or block; input dynamic, or static per tensor).
 *     schemes/compressed_tensors_w8a8_fp8.py: block weights need dynamic input activations.
 *  R6 layers/quantization/utils/fp8_utils.py create_fp8_scale_parameter: weight_scale per
 *     strategy: tensor one per shard ([1] or a scalar), channel [out, 1], block
 *     [ceil(out/bn), ceil(in/bk)]; input_scale one per shard for static activations.
 *     validate_fp8_block_shape: each output partition of a merged layer divisible by block_n.
 *  R7 modelopt.py ModelOptQuantConfigBase.from_config: config.json's flat quantization_config
 *     carries its exclusions as `ignore`; hf_quant_config.json as quantization.exclude_modules.
 */
import * as fs from "fs";
import * as path from "path";
import { Checkpoint } from "../../src/index";

type Cfg = Record<string, any>;

interface Param {
  /** The vLLM parameter name (after R1). */
  name: string;
  /** Checkpoint names that load into it (q/k/v: three). */
  sources: { hf: string; shape: number[] }[];
  /** Whether the layer takes the quant config (R3). */
  quantizable: boolean;
  /** Output partitions of a merged layer (R6 validate_fp8_block_shape). */
  partitions?: number[];
}

/** R1: an HF checkpoint name as vLLM's mapper rewrites it. */
export function vllmName(hf: string): string {
  let n = hf.startsWith("backbone.") ? "model." + hf.slice("backbone.".length) : hf;
  n = n.replace("A_log", "A").replace("embeddings", "embed_tokens");
  return n.replace(/\.(q|k|v)_proj\./, ".qkv_proj.");
}

/** R2/R3: the parameters vLLM's NemotronH builds for a config (tensor parallel size 1). */
export function vllmParams(c: Cfg): Param[] {
  const H = c.hidden_size, pattern: string = c.hybrid_override_pattern;
  const out: Param[] = [];
  const p = (name: string, hf: string, shape: number[], quantizable = false, partitions?: number[]) =>
    out.push({ name, sources: [{ hf, shape }], quantizable, partitions });
  p("model.embed_tokens.weight", "backbone.embeddings.weight", [c.vocab_size, H]);
  for (let i = 0; i < pattern.length; i++) {
    const hf = `backbone.layers.${i}`, v = `model.layers.${i}`;
    p(`${v}.norm.weight`, `${hf}.norm.weight`, [H]);
    const kind = pattern[i];
    if (kind === "M") {
      const dInner = c.mamba_num_heads * c.mamba_head_dim, gn = c.n_groups * c.ssm_state_size;
      const convDim = dInner + 2 * gn, inOut = 2 * dInner + 2 * gn + c.mamba_num_heads;
      p(`${v}.mixer.in_proj.weight`, `${hf}.mixer.in_proj.weight`, [inOut, H], true, [dInner, dInner, gn, gn, c.mamba_num_heads]);
      p(`${v}.mixer.conv1d.weight`, `${hf}.mixer.conv1d.weight`, [convDim, 1, c.conv_kernel]);
      if (c.use_conv_bias) p(`${v}.mixer.conv1d.bias`, `${hf}.mixer.conv1d.bias`, [convDim]);
      p(`${v}.mixer.A`, `${hf}.mixer.A_log`, [c.mamba_num_heads]);
      p(`${v}.mixer.D`, `${hf}.mixer.D`, [c.mamba_num_heads]);
      p(`${v}.mixer.dt_bias`, `${hf}.mixer.dt_bias`, [c.mamba_num_heads]);
      p(`${v}.mixer.norm.weight`, `${hf}.mixer.norm.weight`, [dInner]);
      p(`${v}.mixer.out_proj.weight`, `${hf}.mixer.out_proj.weight`, [H, dInner], true);
    } else if (kind === "*") {
      const q = c.num_attention_heads * c.head_dim, kv = c.num_key_value_heads * c.head_dim;
      out.push({ name: `${v}.mixer.qkv_proj.weight`, quantizable: true, partitions: [q, kv, kv], sources: [
        { hf: `${hf}.mixer.q_proj.weight`, shape: [q, H] }, { hf: `${hf}.mixer.k_proj.weight`, shape: [kv, H] }, { hf: `${hf}.mixer.v_proj.weight`, shape: [kv, H] }] });
      p(`${v}.mixer.o_proj.weight`, `${hf}.mixer.o_proj.weight`, [H, q], true);
    } else if (kind === "-") {
      p(`${v}.mixer.up_proj.weight`, `${hf}.mixer.up_proj.weight`, [c.intermediate_size, H], true);
      p(`${v}.mixer.down_proj.weight`, `${hf}.mixer.down_proj.weight`, [H, c.intermediate_size], true);
    } else if (kind === "E") {
      const E = c.n_routed_experts, I = c.moe_intermediate_size, inner = c.moe_latent_size ?? H;
      p(`${v}.mixer.gate.weight`, `${hf}.mixer.gate.weight`, [E, H]);
      p(`${v}.mixer.gate.e_score_correction_bias`, `${hf}.mixer.gate.e_score_correction_bias`, [E]);
      for (let e = 0; e < E; e++) {
        p(`${v}.mixer.experts.${e}.up_proj.weight`, `${hf}.mixer.experts.${e}.up_proj.weight`, [I, inner], true);
        p(`${v}.mixer.experts.${e}.down_proj.weight`, `${hf}.mixer.experts.${e}.down_proj.weight`, [inner, I], true);
      }
      if ((c.n_shared_experts ?? 0) > 0) {
        const S = c.moe_shared_expert_intermediate_size * c.n_shared_experts;
        p(`${v}.mixer.shared_experts.up_proj.weight`, `${hf}.mixer.shared_experts.up_proj.weight`, [S, H], true);
        p(`${v}.mixer.shared_experts.down_proj.weight`, `${hf}.mixer.shared_experts.down_proj.weight`, [H, S], true);
      }
      if (c.moe_latent_size) {
        p(`${v}.mixer.fc1_latent_proj.weight`, `${hf}.mixer.fc1_latent_proj.weight`, [inner, H], true);
        p(`${v}.mixer.fc2_latent_proj.weight`, `${hf}.mixer.fc2_latent_proj.weight`, [H, inner], true);
      }
    } else {
      throw new Error(`R2: vLLM has no decoder layer for pattern character '${kind}' (layer ${i})`);
    }
  }
  p("model.norm_f.weight", "backbone.norm_f.weight", [H]);
  if (!c.tie_word_embeddings) p("lm_head.weight", "lm_head.weight", [c.vocab_size, H]);
  return out;
}

interface Scheme { kind: "ct" | "modelopt"; strategy: "tensor" | "channel" | "block"; block?: [number, number]; staticInput: boolean; ignore: string[] }

/** R5/R7: the scheme vLLM reads from config.json (it prefers config.json's quantization_config). */
export function readScheme(dir: string, problems: string[]): Scheme | undefined {
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8").replace(/\bInfinity\b/g, "1e999"));
  const qc = cfg.quantization_config;
  if (!qc) { problems.push("config.json has no quantization_config"); return undefined; }
  if (qc.quant_method === "modelopt") {
    if (qc.quant_algo !== "FP8") problems.push(`R7: quant_algo ${qc.quant_algo}`);
    if (!Array.isArray(qc.ignore)) problems.push("R7: config.json's modelopt quantization_config has no `ignore` list (vLLM reads ignore there)");
    const hfq = path.join(dir, "hf_quant_config.json");
    if (fs.existsSync(hfq)) {
      const ex = JSON.parse(fs.readFileSync(hfq, "utf8")).quantization?.exclude_modules;
      if (JSON.stringify(ex) !== JSON.stringify(qc.ignore)) problems.push("R7: hf_quant_config.json quantization.exclude_modules differs from config.json's ignore");
    }
    return { kind: "modelopt", strategy: "tensor", staticInput: true, ignore: qc.ignore ?? [] };
  }
  if (qc.quant_method !== "compressed-tensors") { problems.push(`unknown quant_method ${qc.quant_method}`); return undefined; }
  const groups = Object.values(qc.config_groups ?? {}) as Cfg[];
  if (groups.length !== 1) { problems.push(`expected one config group, got ${groups.length}`); return undefined; }
  const w = groups[0].weights, a = groups[0].input_activations;
  if (!(w?.type === "float" && w.num_bits === 8 && w.symmetric && !w.dynamic)) problems.push("R5: weights are not static symmetric FP8");
  if (!["tensor", "channel", "block"].includes(w.strategy)) problems.push(`R5: weight strategy ${w.strategy}`);
  if (a == null && w.strategy === "block") problems.push("R5: block weights without input_activations take CompressedTensorsW8A16Fp8, which asserts on block weights");
  if (a != null && !(a.type === "float" && a.num_bits === 8)) problems.push("R5: input activations are not FP8");
  if (a != null && !a.dynamic && a.strategy !== "tensor") problems.push(`R5: static input activations must be per tensor, got ${a.strategy}`);
  if (w.strategy === "block" && a != null && !a.dynamic) problems.push("R5: block weights need dynamic input activations");
  return { kind: "ct", strategy: w.strategy, block: w.block_structure ?? undefined, staticInput: a != null && !a.dynamic, ignore: qc.ignore ?? [] };
}

/** Every rule against an exported checkpoint; returns the violations (empty = vLLM loads it). */
export function checkVllmLoadable(dir: string): string[] {
  const problems: string[] = [];
  const scheme = readScheme(dir, problems);
  if (!scheme) return problems;
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8").replace(/\bInfinity\b/g, "1e999"));
  const ck = Checkpoint.open(dir);
  const present = new Map(ck.names().map((n) => [n, ck.tensor(n)]));
  const used = new Set<string>();
  for (const prm of vllmParams(cfg)) {
    const module = prm.name.slice(0, prm.name.lastIndexOf("."));
    const shardModules = prm.sources.map((s) => s.hf.slice(0, s.hf.lastIndexOf(".")));
    const shardIgnored = shardModules.map((m) => scheme.ignore.includes(m));
    if (shardIgnored.some((x) => x !== shardIgnored[0])) problems.push(`R4: ${module}: fused shards ignored unevenly (${shardModules.join(", ")})`);
    const quantized = prm.quantizable && !shardIgnored[0];
    for (const s of prm.sources) {
      const t = present.get(s.hf);
      if (!t) { problems.push(`R2: ${s.hf} (for ${prm.name}) is missing`); continue; }
      used.add(s.hf);
      if (JSON.stringify(t.shape) !== JSON.stringify(s.shape)) problems.push(`R2: ${s.hf} has shape [${t.shape}], vLLM expects [${s.shape}]`);
      const base = s.hf.slice(0, -".weight".length);
      if (quantized) {
        if (t.dtype !== "F8_E4M3") problems.push(`R3: ${s.hf} is ${t.dtype} but vLLM builds ${module} as FP8`);
        const sc = present.get(`${base}.weight_scale`);
        if (!sc) { problems.push(`R6: ${base}.weight_scale is missing`); continue; }
        used.add(sc.name);
        if (sc.dtype !== "F32") problems.push(`R6: ${sc.name} is ${sc.dtype}`);
        const [rows, cols] = s.shape;
        const want = scheme.strategy === "tensor" ? [[1], []] : scheme.strategy === "channel" ? [[rows, 1]] :
          [[Math.ceil(rows / scheme.block![0]), Math.ceil(cols / scheme.block![1])]];
        if (!want.some((w) => JSON.stringify(w) === JSON.stringify(sc.shape))) problems.push(`R6: ${sc.name} has shape [${sc.shape}], ${scheme.strategy} wants ${want.map((w) => `[${w}]`).join(" or ")}`);
        if (scheme.strategy === "block") {
          for (const part of prm.partitions ?? [rows]) if (part % scheme.block![0]) problems.push(`R6: ${module}: output partition ${part} not divisible by block_n ${scheme.block![0]}`);
        }
        const inS = present.get(`${base}.input_scale`);
        if (scheme.staticInput && !inS) problems.push(`R6: ${base}.input_scale is missing (static activations)`);
        if (inS) {
          used.add(inS.name);
          if (!scheme.staticInput) problems.push(`R2: ${inS.name} is unexpected (activations are not static)`);
        }
      } else {
        if (t.dtype.startsWith("F8")) problems.push(`R3: ${s.hf} is ${t.dtype} but vLLM builds ${module} unquantized (it would read FP8 codes as ${cfg.torch_dtype})`);
      }
    }
  }
  if (!cfg.tie_word_embeddings && !scheme.ignore.includes("lm_head")) problems.push("R3/R4: lm_head is not listed in ignore (it is never quantized by vLLM)");
  for (const n of present.keys()) if (!used.has(n)) problems.push(`R2: ${n} has no parameter in vLLM's NemotronH (AutoWeightsLoader raises)`);
  return problems;
}
