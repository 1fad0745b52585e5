import type { NemotronHConfig } from "../io/config";
export interface ModelState { readonly length: number; clone(): ModelState; reset(): void }
export interface ForwardOptions { lastOnly?: boolean; signal?: AbortSignal }
export interface CausalLM {
  readonly config: NemotronHConfig;
  readonly vocabSize: number;
  newState(options?: { maxTokens?: number }): ModelState;
  /** Runs ids from `state` (advancing it); returns logits [ids.length, vocab] row-major, or only the last row if lastOnly. */
  forward(ids: ArrayLike<number>, state: ModelState, options?: ForwardOptions): Float32Array;
}
