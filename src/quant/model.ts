/**
 * What quantization needs of a model, as the NemotronH forward (src/model/nemotron-h.ts)
 * provides it: a causal LM with state, and its weights by tensor path, replaceable in
 * memory (by an FP8 Tensor with its scale attached) and restorable exactly. Declared here
 * structurally so src/quant depends on the contract, not on one implementation.
 */
import type { Tensor } from "../tensor/tensor";
import type { ActivationQuantHooks, CausalLM } from "../model/types";

export type { CausalLM, ModelState, ActivationQuant, ActivationQuantHooks } from "../model/types";

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
