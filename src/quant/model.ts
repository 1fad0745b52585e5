/**
 * What quantization needs of a model, as the NemotronH forward (src/model/nemotron-h.ts)
 * provides it: a causal LM with state, and its weights by tensor path, replaceable in
 * memory (by an FP8 Tensor with its scale attached) and restorable exactly. Declared here
 * structurally so src/quant depends on the contract, not on one implementation.
 */
import type { Tensor } from "../tensor/tensor";
import type { CausalLM } from "../model/types";

export type { CausalLM, ModelState } from "../model/types";

/** How a linear quantizes its input activations (fake-quant inside the model's linear). */
export interface ActivationQuant {
  format: "e4m3" | "e5m2";
  /** "static": one per-tensor scale (calibrated); "dynamic": a scale per token (row) from its amax. */
  mode: "static" | "dynamic";
  /** The static scale (amax / fmax); required for mode "static". */
  scale?: number;
}

/**
 * Optional activation hook of a model: fake-quantize a linear's input, and observe the
 * input amax for calibration. Models without it support weight-only quantization.
 */
export interface ActivationQuantHooks {
  setInputQuant(weight: string, q: ActivationQuant | undefined): void;
  /** Starts recording max |input| per linear (by weight name); stop returns them. */
  observeInputAmax(weights: string[]): { stop(): Map<string, number> };
}

export interface QuantizableModel extends CausalLM {
  logits(ids: ArrayLike<number>): Float32Array;
  weight(name: string): Tensor;
  replaceWeight(name: string, t: Tensor): void;
  restoreWeight(name: string): void;
  restoreAll(): void;
  linearWeights(): string[];
}

export function hasActivationHooks(m: object): m is ActivationQuantHooks {
  const x = m as Partial<ActivationQuantHooks>;
  return typeof x.setInputQuant === "function" && typeof x.observeInputAmax === "function";
}
