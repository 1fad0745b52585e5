/**
 * The model contract other parts code against (generation, quantization experiments,
 * notebooks): a causal LM that runs token ids from a per-sequence state, and the optional
 * activation fake-quantization hooks a model may implement.
 */
import type { NemotronHConfig } from "./config";

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
