/**
 * The generation loop: prompt -> ids (plain text, chat template, or ids as given), one prefill
 * forward over the prompt, then one-token decode forwards, each followed by sampling, stop
 * checks and a UTF-8-safe text delta. The model state belongs to the generation, so an abort
 * leaves the model ready for the next call. Between tokens the loop yields to the event loop,
 * so a notebook interrupt or a Ctrl-C handler gets to run.
 *
 * Stop rules: an eos id (config eos_token_id, the tokenizer's eos / <SPECIAL_12> / </s>, unless
 * ignoreEos), a stop string (text is never emitted past its start; text that could still
 * become a stop string is held back until it cannot), maxTokens, or the abort signal.
 * Timings: prefill tok/s = prompt tokens / prefill forward time; decode tok/s = one-token
 * forwards / their time (sampling is timed apart, and time spent by the consumer of the
 * stream is not counted). A model with forwardSample (NemotronH, every backend) samples in its
 * backend, with the same choices as the Sampler (the Sampler's random stream feeds it): only the
 * id leaves a GPU, and the draw is timed with its forward.
 */
import { performance } from "perf_hooks";
import type { CausalLM } from "../model/types";
import type { TextTokenizer } from "../text/tokenizer";
import { ChatMessage, chatMessages } from "../text/chat";
import { Sampler, SamplingOptions, nativeDraw } from "./sampling";
import type { NativeDraw } from "../backend/native";
import type { ModelState } from "../model/types";

/** A model whose backend samples too (NemotronH on every backend): the logits stay where they are computed. */
interface SamplingLM extends CausalLM {
  forwardSample(ids: ArrayLike<number>, state: ModelState, draw: NativeDraw, options?: { signal?: AbortSignal }): number;
}
function samplesNatively(model: CausalLM): model is SamplingLM {
  return typeof (model as Partial<SamplingLM>).forwardSample === "function";
}
import { workSignal } from "../util/cancel";
import { eosIds } from "../model/config";
import { UserError } from "../util/errors";

export interface GenerateOptions extends SamplingOptions {
  /** Plain text prompt (encoded with the tokenizer's special tokens, e.g. BOS). */
  prompt?: string;
  /** Prompt token ids as given. */
  ids?: ArrayLike<number>;
  /** A conversation rendered with the tokenizer's chat template. */
  messages?: ChatMessage[];
  /** Wrap `prompt` as a user message (with `system`, if given) and render the chat template. */
  chat?: boolean;
  /** System prompt for chat (implies chat). */
  system?: string;
  /** The template's enable_thinking switch (Nano-v2: /think and /no_think in messages still win). */
  thinking?: boolean;
  /** More chat template variables (tools, ...). */
  templateKwargs?: Record<string, unknown>;
  /** Most tokens to generate (default 256). */
  maxTokens?: number;
  /** Keep going past eos ids (until maxTokens or a stop string). */
  ignoreEos?: boolean;
  /** Stop when the generated text contains one of these; the text ends just before it. */
  stop?: string[];
  /** More ids to stop on. */
  stopIds?: number[];
  /** Longest prompt + generation allowed (default: the config's max_position_embeddings). */
  maxContext?: number;
  signal?: AbortSignal;
}

export interface GenerationChunk {
  /** The token just generated. */
  id: number;
  /** Text that became final with this token (may be "" while a character or a possible stop string is incomplete). */
  text: string;
  /** 0-based position among the generated tokens. */
  index: number;
}

export type FinishReason = "eos" | "stop" | "length" | "aborted";

export interface GenerationResult {
  /** Generated ids, the eos id that ended the reply included. */
  ids: number[];
  promptIds: number[];
  /** Generated text (when a tokenizer is present): eos ids not included, cut before a stop string. */
  text?: string;
  finishReason: FinishReason;
  /** The stop string or eos id that ended generation. */
  stoppedBy?: string | number;
  promptTokens: number;
  generatedTokens: number;
  prefillMs: number;
  /** Time in the one-token decode forwards. */
  decodeMs: number;
  /** Time in the TypeScript Sampler (all tokens); 0 when the model samples in its backend (then the draw is in the forward times). */
  samplingMs: number;
  prefillTokensPerS: number;
  decodeTokensPerS: number;
}

const DEFAULT_MAX_TOKENS = 256;

/** The prompt ids the options describe; errors say what is missing or wrong. */
export function promptIds(model: CausalLM | undefined, tokenizer: TextTokenizer | undefined, o: GenerateOptions): number[] {
  const given = [o.prompt !== undefined, o.ids !== undefined, o.messages !== undefined].filter(Boolean).length;
  if (given !== 1) throw new UserError("generate: give exactly one of prompt, ids or messages");
  let ids: number[];
  if (o.ids !== undefined) {
    ids = Array.from(o.ids);
    if (ids.length === 0) throw new UserError("generate: ids is empty; give at least one prompt token");
  } else {
    if (!tokenizer) throw new UserError("generate: a text prompt needs a tokenizer (the checkpoint has no tokenizer.json); pass ids instead");
    if (o.prompt !== undefined && o.prompt.length === 0) throw new UserError("generate: the prompt is empty");
    const messages = o.messages ?? (o.chat || o.system !== undefined ? chatMessages(o.prompt!, o.system) : undefined);
    if (messages) {
      const kwargs = { ...(o.thinking !== undefined ? { enable_thinking: o.thinking } : {}), ...o.templateKwargs };
      // As transformers' apply_chat_template(tokenize=True): the template writes every special token itself.
      ids = tokenizer.encode(tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true, kwargs }), { addSpecialTokens: false });
    } else {
      ids = tokenizer.encode(o.prompt!);
    }
    if (ids.length === 0) throw new UserError("generate: the prompt encodes to no tokens");
  }
  const vocab = model?.vocabSize ?? tokenizer?.vocabSize;
  for (const [i, id] of ids.entries()) {
    if (!Number.isInteger(id) || id < 0 || (vocab !== undefined && id >= vocab)) {
      throw new UserError(`generate: prompt token ${i} is ${id}, outside the vocabulary [0, ${vocab})`);
    }
  }
  return ids;
}

/** A running generation: iterate it for chunks (once), await `result` for the ids, text and timings. */
export class GenerationStream implements AsyncIterable<GenerationChunk> {
  private started = false;
  private readonly settled: Promise<GenerationResult>;

  constructor(private readonly gen: AsyncGenerator<GenerationChunk, void>, settled: Promise<GenerationResult>) {
    this.settled = settled;
    settled.catch(() => undefined);  // a failure is reported to whoever iterates or awaits result
  }

  [Symbol.asyncIterator](): AsyncIterator<GenerationChunk> {
    if (this.started) throw new UserError("generate: a generation stream can be iterated only once");
    this.started = true;
    return this.gen;
  }

  /** The final result; runs the generation to its end when nobody iterates it. */
  get result(): Promise<GenerationResult> {
    if (!this.started) {
      this.started = true;
      return (async () => {
        for await (const _ of this.gen) { /* drain */ }
        return this.settled;
      })();
    }
    return this.settled;
  }
}

/** Starts a generation; prompt errors throw here, before any forward. */
export function stream(model: CausalLM, tokenizer: TextTokenizer | undefined, options: GenerateOptions): GenerationStream {
  const prompt = promptIds(model, tokenizer, options);
  const maxTokens = options.maxTokens ?? DEFAULT_MAX_TOKENS;
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new UserError(`generate: maxTokens must be an integer >= 1, got ${maxTokens}`);
  const maxContext = options.maxContext ?? (model.config.raw?.max_position_embeddings as number | undefined);
  if (maxContext !== undefined && prompt.length + maxTokens > maxContext) {
    throw new UserError(`generate: the prompt (${prompt.length} tokens) plus maxTokens (${maxTokens}) is ${prompt.length + maxTokens} tokens, longer than the context of ${maxContext}`);
  }
  const stops = options.stop ?? [];
  if (stops.some((s) => typeof s !== "string" || s.length === 0)) throw new UserError("generate: stop strings must be non-empty strings");
  if (stops.length && !tokenizer) throw new UserError("generate: stop strings need a tokenizer (the checkpoint has no tokenizer.json)");
  const sampler = new Sampler(options);  // validates the sampling options now
  const eos = new Set(options.ignoreEos ? [] : [...eosIds(model.config), ...(tokenizer?.eosIds ?? []), ...(options.stopIds ?? [])]);

  let settle!: (r: GenerationResult) => void;
  let fail!: (e: unknown) => void;
  const settled = new Promise<GenerationResult>((res, rej) => { settle = res; fail = rej; });

  // Captured now, in the caller's context: in a notebook that is the cell's interrupt signal.
  const signal = workSignal(options.signal);
  async function* run(): AsyncGenerator<GenerationChunk, void> {
    const vocab = model.vocabSize;
    const decoder = tokenizer?.streamDecoder();
    const generated: number[] = [];
    const context = [...prompt];
    let emitted = "";
    let pending = "";
    let finishReason: FinishReason = "length";
    let stoppedBy: string | number | undefined;
    let prefillMs = 0, decodeMs = 0, samplingMs = 0, decodeSteps = 0;
    const lastRow = (l: Float32Array) => (l.length === vocab ? l : l.subarray(l.length - vocab));

    // Moves `pending` text out, stopping at a stop string; `final` emits what is held back too.
    const release = (final: boolean): string => {
      let cut = -1;
      for (const s of stops) {
        const at = pending.indexOf(s);
        if (at >= 0 && (cut < 0 || at < cut)) { cut = at; stoppedBy = s; }
      }
      let out: string;
      if (cut >= 0) {
        out = pending.slice(0, cut);
        pending = "";
        finishReason = "stop";
      } else {
        const hold = final ? pending.length : holdFrom(pending, stops);
        out = pending.slice(0, hold);
        pending = pending.slice(hold);
      }
      emitted += out;
      return out;
    };

    // The next token after ids: drawn by the model's backend, or by the Sampler from the logits.
    const native = samplesNatively(model);
    let sampledMs = 0;  // the Sampler's share of the last step (kept out of the forward times)
    const step = (ids: number[]): number | undefined => {
      try {
        if (native) return model.forwardSample(ids, state, nativeDraw(sampler, context), { signal });
        const logits = lastRow(model.forward(ids, state, { lastOnly: true, signal }));
        const t = performance.now();
        const id = sampler.next(logits, context);
        sampledMs = performance.now() - t;
        samplingMs += sampledMs;
        return id;
      } catch (e) {
        if (signal?.aborted) return undefined;
        throw e;
      }
    };

    let state = undefined as unknown as ReturnType<CausalLM["newState"]>;
    try {
      if (signal?.aborted) { finishReason = "aborted"; return; }
      state = model.newState({ maxTokens: prompt.length + maxTokens });
      let t = performance.now();
      let next = step(prompt);
      prefillMs = performance.now() - t - sampledMs;
      if (next === undefined) { finishReason = "aborted"; return; }
      for (;;) {
        const id: number = next;
        generated.push(id);
        context.push(id);
        let text = "";
        if (eos.has(id)) {
          finishReason = "eos";
          stoppedBy = id;
          if (decoder) { pending += decoder.flush(); text = release(true); }
        } else if (decoder) {
          pending += decoder.push(id);
          const last = generated.length >= maxTokens;
          if (last) pending += decoder.flush();
          text = release(last);
        }
        const reason = finishReason as FinishReason;  // release() may have set it to "stop"
        const done = reason === "eos" || reason === "stop" || generated.length >= maxTokens;
        yield { id, text, index: generated.length - 1 };
        if (done) return;
        await new Promise((r) => setImmediate(r));  // let interrupts land
        if (signal?.aborted) { finishReason = "aborted"; return; }
        t = performance.now();
        next = step([id]);
        decodeMs += performance.now() - t - sampledMs;
        decodeSteps++;
        if (next === undefined) { finishReason = "aborted"; return; }
      }
    } catch (e) {
      fail(e);
      throw e;
    } finally {
      // Also reached when the consumer stops iterating early: that counts as aborted.
      if (finishReason === "length" && generated.length < maxTokens) finishReason = "aborted";
      if (decoder && finishReason === "aborted") { pending += decoder.flush(); release(true); }
      settle({
        ids: generated,
        promptIds: prompt,
        text: decoder ? emitted : undefined,
        finishReason,
        stoppedBy,
        promptTokens: prompt.length,
        generatedTokens: generated.length,
        prefillMs,
        decodeMs,
        samplingMs,
        prefillTokensPerS: prefillMs > 0 ? prompt.length / (prefillMs / 1000) : 0,
        decodeTokensPerS: decodeMs > 0 ? decodeSteps / (decodeMs / 1000) : 0,
      });
    }
  }

  return new GenerationStream(run(), settled);
}

/** Runs a generation to its end; onChunk sees each token as it comes. */
export async function generate(
  model: CausalLM,
  tokenizer: TextTokenizer | undefined,
  options: GenerateOptions & { onChunk?: (chunk: GenerationChunk) => void },
): Promise<GenerationResult> {
  const s = stream(model, tokenizer, options);
  for await (const chunk of s) options.onChunk?.(chunk);
  return s.result;
}

/** Where the held-back tail starts: the earliest suffix of text that begins some stop string. */
function holdFrom(text: string, stops: string[]): number {
  for (let i = Math.max(0, text.length - Math.max(0, ...stops.map((s) => s.length - 1))); i < text.length; i++) {
    const tail = text.slice(i);
    if (stops.some((s) => s.startsWith(tail))) return i;
  }
  return text.length;
}
