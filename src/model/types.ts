/**
 * The model contract other parts code against (generation, quantization experiments,
 * notebooks): a causal LM that runs token ids from a per-sequence state.
 */
import type { NemotronHConfig } from "../io/config";

/** Per-sequence state: conv + SSM state per Mamba layer, KV cache per attention layer. */
export interface ModelState {
  /** Tokens consumed so far. */
  readonly length: number;
  clone(): ModelState;
  reset(): void;
}

export interface ForwardOptions {
  lastOnly?: boolean;
  signal?: AbortSignal;
}

export interface CausalLM {
  readonly config: NemotronHConfig;
  readonly vocabSize: number;
  newState(options?: { maxTokens?: number }): ModelState;
  /** Runs ids from `state` (advancing it); returns logits [ids.length, vocab] row-major, or only the last row if lastOnly. */
  forward(ids: ArrayLike<number>, state: ModelState, options?: ForwardOptions): Float32Array;
}
