/** Small deterministic stand-ins for the native model, implementing the CausalLM contract. */
import { CausalLM, ModelState, ForwardOptions, NemotronHConfig, validateConfig, tinyConfig } from "../../src/index";

class FakeState implements ModelState {
  ids: number[] = [];
  /** Tokens in the first forward call (the prompt). */
  prompt = -1;
  get length(): number { return this.ids.length; }
  clone(): ModelState { const s = new FakeState(); s.ids = [...this.ids]; s.prompt = this.prompt; return s; }
  reset(): void { this.ids = []; this.prompt = -1; }
}

export interface FakeOptions {
  vocabSize?: number;
  /** Next-token logits given everything in the state so far, and how many of those are the prompt. */
  next: (ids: number[], prompt: number) => Float32Array;
  /** Called at the start of each forward (e.g. to abort mid-generation). */
  onForward?: (call: number, ids: number[], options: ForwardOptions | undefined) => void;
}

export class FakeLM implements CausalLM {
  readonly config: NemotronHConfig;
  readonly vocabSize: number;
  forwards = 0;
  states: FakeState[] = [];
  constructor(private readonly o: FakeOptions) {
    this.vocabSize = o.vocabSize ?? 1024;
    this.config = validateConfig(tinyConfig({ config: { vocab_size: this.vocabSize } }), "fake config.json");
  }
  newState(): ModelState { const s = new FakeState(); this.states.push(s); return s; }
  forward(ids: ArrayLike<number>, state: ModelState, options?: ForwardOptions): Float32Array {
    const call = this.forwards++;
    this.o.onForward?.(call, Array.from(ids), options);
    if (options?.signal?.aborted) { const e = new Error("aborted"); e.name = "AbortError"; throw e; }
    const s = state as FakeState;
    if (s.prompt < 0) s.prompt = ids.length;
    const rows: Float32Array[] = [];
    for (const id of Array.from(ids)) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw new Error(`fake: id ${id} out of range`);
      s.ids.push(id);
      rows.push(this.o.next(s.ids, s.prompt));
    }
    if (options?.lastOnly) return rows[rows.length - 1];
    const out = new Float32Array(rows.length * this.vocabSize);
    rows.forEach((r, i) => out.set(r, i * this.vocabSize));
    return out;
  }
}

/** Greedy-friendly: after the prompt it produces `script` token by token, then `after` forever. */
export function scriptedLM(script: number[], after = 0, vocabSize = 1024, onForward?: FakeOptions["onForward"]): FakeLM {
  return new FakeLM({
    vocabSize,
    onForward,
    next: (ids, prompt) => {
      const k = ids.length - prompt;
      const target = k < script.length ? script[k] : after;
      const l = new Float32Array(vocabSize);
      l[target] = 10;
      return l;
    },
  });
}

/** A smooth distribution from a hash of the last few ids: good for sampling and seeds. */
export function hashLM(vocabSize = 64): FakeLM {
  return new FakeLM({
    vocabSize,
    next: (ids) => {
      let h = 2166136261;
      for (const id of ids.slice(-3)) h = Math.imul(h ^ id, 16777619) >>> 0;
      const l = new Float32Array(vocabSize);
      for (let i = 0; i < vocabSize; i++) { h = Math.imul(h ^ i, 16777619) >>> 0; l[i] = (h % 1000) / 250; }
      return l;
    },
  });
}
