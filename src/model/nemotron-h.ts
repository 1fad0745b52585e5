/**
 * NemotronH: the hybrid Mamba-2 / attention / MLP (/ MoE) causal LM on the native backend.
 *
 * TypeScript holds the plan (which tensor, by checkpoint path, feeds which layer slot) and
 * the current weight of every slot; the native model object is built from the plan once
 * and runs the whole layer loop per call. Swapping a weight (e.g. for an FP8 copy) re-binds
 * one pointer; nothing is copied, and the stored dtype (F32/BF16/F16/FP8 + scale) is read
 * by the kernels directly, so a checkpoint runs in about its file size of memory.
 * Activations can be recorded and rewritten by hook name (backbone.layers.3, backbone.layers.3.mixer.dt, ...;
 * the architecture table in arch.ts lists them); hooks live for one call only.
 */
import { BackendName, native, NativeHandle, NativeHook } from "../backend/native";
import { BackendChoice, resolveBackend } from "../backend/select";
import { Checkpoint } from "./checkpoint";
import { NemotronHConfig, derivedSizes } from "./config";
import { Tensor } from "../tensor/tensor";
import { formatShape } from "../util/format";
import { BLOCK_KIND, HOOK_POINT, PlanSlot, ROLE, executionPlan } from "./plan";
import { LOGITS_HOOK, ModelHook, modelHooks } from "./arch";
import { ActivationCache } from "./activation-cache";
import { selectHooks, selectionBytes } from "./hooks";
import { TextTokenizer } from "../text/tokenizer";
import { CausalLM, ForwardOptions, ModelState } from "./types";
import type { ActivationQuant } from "./types";

export interface LoadOptions {
  /** "none" (default): dt as the CUDA kernels compute it; "hf": HF transformers' prefill clamp dt >= time_step_min. */
  dtClamp?: "none" | "hf";
  /** Default context limit of new states (tokens); unlimited when absent. */
  maxTokens?: number;
  /**
   * Where it runs: "cpu" (default, fast kernels), "reference" (plain kernels; slow, for
   * checks), "cuda" (NVIDIA GPU; throws "no CUDA device (reason)" without one), "auto"
   * (cuda when a device exists, else cpu).
   */
  backend?: BackendChoice;
  /**
   * What-if storage precision of the SSM state (every backend: the backend's round_to op): "f32" (default), "bf16" or "f16". The scan
   * computes in fp32; the state is rounded where it is kept between forward calls (each decode step, each
   * prefill piece of up to 512 tokens), as a serving engine's state cache of that dtype would keep it.
   */
  ssmStateDtype?: StateDtypeName;
  /**
   * What-if storage precision of the KV cache (every backend): "f32" (default), "bf16", or "fp8_e4m3" with one
   * scale per KV head (K and V apart), set from the amax of the first write (the prefill) and kept for later
   * tokens (saturating). Rows are rounded as they are written, so the attention reads them as stored.
   */
  kvCacheDtype?: StateDtypeName;
  /**
   * Read the checkpoint's files in the background from the start (default true): the first
   * forward then finds the weights in memory instead of faulting them in page by page.
   */
  readAhead?: boolean;
}

export type StateDtypeName = "f32" | "bf16" | "f16" | "fp8_e4m3";
/** The native StateDtype codes (native/src/model/nemotron_h.h). */
const STATE_DTYPE: Readonly<Record<StateDtypeName, number>> = { f32: 0, bf16: 1, f16: 2, fp8_e4m3: 3 };

function stateDtype(option: string, v: string | undefined, allowed: StateDtypeName[]): number {
  if (v === undefined || v === "f32") return 0;
  if (!allowed.includes(v as StateDtypeName)) throw new Error(`NemotronH.load: ${option} must be ${allowed.map((a) => JSON.stringify(a)).join(", ")}; got ${JSON.stringify(v)}`);
  return STATE_DTYPE[v as StateDtypeName];
}

/** Per-sequence state of a NemotronH (native conv/SSM states and KV caches). */
export class NemotronHState implements ModelState {
  /** @internal */
  constructor(readonly owner: NemotronH, readonly handle: NativeHandle) {}
  get length(): number {
    return native().stateLength(this.handle);
  }
  clone(): NemotronHState {
    return new NemotronHState(this.owner, native().stateClone(this.handle));
  }
  reset(): void {
    native().stateReset(this.owner.handle, this.handle);
  }
}

/**
 * A patch hook: gets the activation (a Tensor of the hook's shape) and returns a replacement, or edits
 * context.data (the activation's own values, row-major) in place and returns nothing.
 */
export type HookFn = (activation: Tensor, context: { name: string; layer: number; data: Float32Array }) => Float32Array | Tensor | void;

export interface RunOptions {
  /** Hook names or globs to record (`logits` included); default: every block output and mixer output. */
  names?: readonly string[];
  /** Runs from this state (advancing it) instead of a fresh one; O(T²) hooks need a fresh one. */
  state?: ModelState;
  /** Refuses a selection whose recorded values need more bytes than this (default 4 GiB). */
  maxBytes?: number;
  signal?: AbortSignal;
}

const SUPPORTED = new Set(["F32", "BF16", "F16", "F8_E4M3", "F8_E5M2"]);

const BLOCK_LEVEL = { embed: 1, norm: 1, mixer: 1, block: 1, norm_f: 1 };

export class NemotronH implements CausalLM {
  readonly config: NemotronHConfig;
  readonly vocabSize: number;
  /** @internal */
  readonly handle: NativeHandle;
  readonly plan: readonly PlanSlot[];
  /** The backend it runs on (options.backend resolved). */
  readonly backend: BackendName;
  private readonly maxTokens: number;
  private readonly original = new Map<string, Tensor>();
  private readonly current = new Map<string, Tensor>();
  private readonly slotsByName = new Map<string, PlanSlot[]>();
  private hooksCache?: ModelHook[];
  private tok?: TextTokenizer;

  private constructor(readonly checkpoint: Checkpoint, options: LoadOptions) {
    if (!checkpoint.config) throw new Error(`${checkpoint.dir}: no config.json, so the model cannot be built`);
    const c = checkpoint.config;
    checkpoint.validate();
    if (options.readAhead ?? true) checkpoint.readAhead();
    this.config = c;
    this.vocabSize = c.vocab_size;
    this.backend = resolveBackend(options.backend ?? "cpu");
    this.maxTokens = options.maxTokens ?? 0;
    if (options.dtClamp !== undefined && options.dtClamp !== "none" && options.dtClamp !== "hf") {
      throw new Error(`NemotronH.load: dtClamp must be "none" or "hf", got ${JSON.stringify(options.dtClamp)}`);
    }
    const s = derivedSizes(c);
    if (s.dInner % c.n_groups !== 0) throw new Error(`config: n_groups ${c.n_groups} must divide d_inner ${s.dInner}`);
    this.handle = native().modelCreate({
      H: c.hidden_size, vocab: c.vocab_size, nh: c.mamba_num_heads, P: c.mamba_head_dim, G: c.n_groups,
      N: c.ssm_state_size, K: c.conv_kernel, chunk: c.chunk_size, nq: c.num_attention_heads,
      nkv: c.num_key_value_heads, hd: c.head_dim, eps: c.layer_norm_epsilon,
      dtLo: c.time_step_limit[0], dtHi: c.time_step_limit[1],
      dtClampMin: options.dtClamp === "hf" ? c.time_step_min : 0,
      E: c.n_routed_experts ?? 0, topk: c.num_experts_per_tok ?? 0, nGroup: c.n_group ?? 1,
      topkGroup: c.topk_group ?? 1, normTopk: c.norm_topk_prob ?? true, routedScale: c.routed_scaling_factor ?? 1,
      kinds: checkpoint.plan.map((l) => BLOCK_KIND[l.kind]),
      ssmDtype: stateDtype("ssmStateDtype", options.ssmStateDtype, ["f32", "bf16", "f16"]),
      kvDtype: stateDtype("kvCacheDtype", options.kvCacheDtype, ["f32", "bf16", "fp8_e4m3"]),
    }, this.backend);
    this.plan = executionPlan(c);
    for (const slot of this.plan) {
      const list = this.slotsByName.get(slot.name) ?? [];
      list.push(slot);
      this.slotsByName.set(slot.name, list);
      if (!this.original.has(slot.name)) {
        const t = checkpoint.tensor(slot.name);
        this.original.set(slot.name, t);
        this.current.set(slot.name, t);
      }
    }
    for (const name of this.slotsByName.keys()) this.bind(name, this.current.get(name)!);
    native().modelCheck(this.handle);
  }

  /** Opens a checkpoint (folder, .safetensors file or cached repo id) and builds the model. */
  static load(ckpt: Checkpoint | string, options: LoadOptions = {}): NemotronH {
    return new NemotronH(typeof ckpt === "string" ? Checkpoint.open(ckpt) : ckpt, options);
  }

  newState(options: { maxTokens?: number } = {}): NemotronHState {
    const max = options.maxTokens ?? this.maxTokens;
    if (!Number.isInteger(max) || max < 0) throw new RangeError(`newState: maxTokens must be a non-negative integer, got ${max}`);
    return new NemotronHState(this, native().stateCreate(this.handle, max));
  }

  forward(ids: ArrayLike<number>, state: ModelState, options: ForwardOptions = {}): Float32Array {
    return this.run(ids, state, options.lastOnly ?? false, options.signal, []);
  }

  /** Logits [T, vocab] of the full pass over ids from a fresh state. */
  logits(ids: ArrayLike<number>, options: { signal?: AbortSignal } = {}): Float32Array {
    return this.forward(ids, this.newState({ maxTokens: 0 }), { signal: options.signal });
  }

  /**
   * Full pass recording activations by hook name (see hookPoints()).
   * `runWithCache(ids | text, { names })` returns an ActivationCache of Tensors with their shapes;
   * `runWithCache(ids, names?)` (an array) returns { logits, cache: Map<name, Float32Array> } as before.
   * O(T²) hooks (`.mixer.pattern`, `.mixer.effective_attention`) take T ≤ 4096 and a fresh state.
   */
  runWithCache(ids: ArrayLike<number>, names?: string[], options?: { signal?: AbortSignal }): { logits: Float32Array; cache: Map<string, Float32Array> };
  runWithCache(input: ArrayLike<number> | string, options: RunOptions): ActivationCache;
  runWithCache(input: ArrayLike<number> | string, arg?: string[] | RunOptions, legacy: { signal?: AbortSignal } = {}):
    ActivationCache | { logits: Float32Array; cache: Map<string, Float32Array> } {
    if (arg === undefined || Array.isArray(arg)) {
      const c = this.runWithHooks(input, {}, { names: arg ?? this.defaultNames(), signal: legacy.signal });
      return { logits: c.logits, cache: new Map(c.names().map((n) => [n, c.get(n).values()])) };
    }
    return this.runWithHooks(input, {}, arg);
  }

  /**
   * Full pass with hooks that may rewrite activations (ablation, patching, steering): each key is a hook
   * name or glob, its function gets the activation and returns a replacement (or edits it in place and
   * returns nothing). The hooks exist for this call only, so a throwing hook leaves nothing behind.
   * options.names records activations as runWithCache does (after the patches).
   */
  runWithHooks(input: ArrayLike<number> | string, hooks: Readonly<Record<string, HookFn>>, options: RunOptions = {}): ActivationCache {
    const ids = typeof input === "string" ? this.tokenizer().encode(input) : input;
    const T = ids.length;
    const fresh = !options.state || options.state.length === 0;
    const rec = selectHooks(this.config, options.names ?? this.defaultNames(), T, { fresh });
    const bytes = selectionBytes(this.config, rec.hooks, rec.logits, T);
    const maxBytes = options.maxBytes ?? 4 * 2 ** 30;
    if (bytes > maxBytes) {
      throw new RangeError(`runWithCache: the selection needs ${(bytes / 2 ** 20).toFixed(1)} MiB, over the bound of ` +
        `${(maxBytes / 2 ** 20).toFixed(1)} MiB (options.maxBytes); select fewer hooks or tokens`);
    }
    const native_ = new Map<string, NativeHook>();
    const point = (h: ModelHook): [number, number] => [h.layer, HOOK_POINT[h.entry.point]];
    const records = new Map<string, [Float32Array, number[]]>();
    for (const h of rec.hooks) {
      const buf = new Float32Array(h.shape.reduce((a, b) => a * b, 1));
      records.set(h.name, [buf, h.shape]);
      native_.set(h.name, [...point(h), buf]);
    }
    for (const [pattern, fn] of Object.entries(hooks)) {
      if (typeof fn !== "function") throw new TypeError(`runWithHooks: hook '${pattern}' must be a function`);
      if (pattern === LOGITS_HOOK) throw new Error("runWithHooks: 'logits' is the output; it can be recorded, not patched");
      for (const h of selectHooks(this.config, [pattern], T, { patch: true, fresh }).hooks) {
        if (h.entry.readOnly) throw new Error(`runWithHooks: '${h.name}' can be recorded, not patched`);
        const n = h.shape.reduce((a, b) => a * b, 1);
        const patch = (a: Float32Array): Float32Array | void => {
          const r = fn(Tensor.fromArray(h.name, a, h.shape), { name: h.name, layer: h.layer, data: a });
          if (r === undefined || r === null) return;
          const v = r instanceof Tensor ? r.values() : r;
          if (!(v instanceof Float32Array) || v.length !== n) {
            const got = r instanceof Tensor ? `a tensor of shape ${formatShape(r.shape)}` : v instanceof Float32Array ? `${v.length} values` : typeof v;
            throw new Error(`hook '${h.name}' returned ${got}; expected ${formatShape(h.shape)} (${n} float32 values)`);
          }
          return v;
        };
        const prev = native_.get(h.name);
        native_.set(h.name, [...point(h), prev ? prev[2] : null, patch]);
      }
    }
    const state = options.state ?? this.newState({ maxTokens: 0 });
    const logits = this.run(ids, state, false, options.signal, [...native_.values()]);
    const entries = new Map<string, Tensor>();
    for (const [name, [buf, shape]] of records) entries.set(name, Tensor.fromArray(name, buf, shape));
    if (rec.logits) entries.set(LOGITS_HOOK, Tensor.fromArray(LOGITS_HOOK, logits, [T, this.vocabSize]));
    const known = new Set([...this.hookPoints().map((h) => h.name), LOGITS_HOOK]);
    return new ActivationCache(entries, logits, T, (n) => known.has(n));
  }

  /** Every hook point (name, layer, kind, table entry with its shape function and doc), in forward order. */
  hookPoints(): ModelHook[] {
    return (this.hooksCache ??= modelHooks(this.config));
  }

  /** The [T, hidden] hook names of the residual stream: embeddings, each block's norm / mixer / output, norm_f. */
  hookNames(): string[] {
    return this.hookPoints().filter((h) => h.entry.point in BLOCK_LEVEL).map((h) => h.name);
  }

  private defaultNames(): string[] {
    return this.hookPoints().filter((h) => h.entry.point === "block" || h.entry.point === "mixer").map((h) => h.name);
  }

  private tokenizer(): TextTokenizer {
    return (this.tok ??= TextTokenizer.load(this.checkpoint.dir));
  }

  /** The current weight of a slot, by checkpoint path. */
  weight(name: string): Tensor {
    const t = this.current.get(name);
    if (!t) throw new Error(`NemotronH: no weight '${name}'; the plan has e.g. ${[...this.current.keys()].slice(0, 3).join(", ")}`);
    return t;
  }

  /** Checkpoint paths of the linear layers' weights (the quantization targets), lm_head included. */
  linearWeights(): string[] {
    return [...new Set(this.plan.filter((s) => s.linear).map((s) => s.name))];
  }

  /** Swaps in any tensor of the same shape (F32/BF16/F16/FP8 with or without a scale); nothing is copied. */
  replaceWeight(name: string, t: Tensor): void {
    const old = this.weight(name);
    if (t.shape.length !== old.shape.length || t.shape.some((d, i) => d !== old.shape[i])) {
      throw new Error(`replaceWeight('${name}'): shape ${formatShape(t.shape)} differs from the model's ${formatShape(old.shape)}`);
    }
    this.bind(name, t);
    this.current.set(name, t);
  }

  /** Back to the checkpoint's tensor. */
  restoreWeight(name: string): void {
    const t = this.original.get(name);
    if (!t) throw new Error(`restoreWeight: no weight '${name}'`);
    if (this.current.get(name) === t) return;
    this.bind(name, t);
    this.current.set(name, t);
  }

  restoreAll(): void {
    for (const name of this.original.keys()) this.restoreWeight(name);
  }

  /**
   * Fake-quantizes the input activations of a linear weight's layer to FP8 (x' = value(fp8(x / scale))
   * * scale, saturating): a static per-tensor scale, or a dynamic scale per token (its amax / fmax);
   * undefined turns it off. Runs on the model's backend (amax and fake_quant_fp8 ops).
   */
  setInputQuant(weight: string, q: ActivationQuant | undefined): void {
    const mode = q ? (q.mode === "static" ? 1 : q.mode === "dynamic" ? 2 : -1) : 0;
    if (mode < 0) throw new RangeError(`setInputQuant: mode must be "static" or "dynamic", got ${JSON.stringify(q!.mode)}`);
    if (mode === 1 && !(q!.scale! > 0 && Number.isFinite(q!.scale!))) {
      throw new RangeError(`setInputQuant('${weight}'): a static input scale must be positive and finite, got ${q!.scale}`);
    }
    const format = q?.format === "e5m2" ? 1 : 0;
    for (const s of this.linearSlots(weight, "setInputQuant")) native().modelSetInputQuant(this.handle, s.layer, s.role, mode, format, q?.scale ?? 1);
  }

  /** Records the max |input| of each named linear over the forwards until stop() (calibration). */
  observeInputAmax(weights: string[]): { stop(): Map<string, number> } {
    const slots = weights.map((w) => [w, this.linearSlots(w, "observeInputAmax")] as const);
    for (const [, list] of slots) for (const s of list) native().modelObserveInput(this.handle, s.layer, s.role, true);
    return {
      stop: () => new Map(slots.map(([w, list]) =>
        [w, Math.max(0, ...list.map((s) => native().modelObserveInput(this.handle, s.layer, s.role, false)))])),
    };
  }

  private linearSlots(weight: string, fn: string): PlanSlot[] {
    const slots = this.slotsByName.get(weight)?.filter((s) => s.linear && s.role !== ROLE.expert_up && s.role !== ROLE.expert_down);
    if (!slots?.length) throw new Error(`${fn}: '${weight}' is not a linear weight of this model (MoE experts excluded); e.g. ${this.linearWeights()[0]}`);
    return slots;
  }

  /** Names whose current tensor is not the checkpoint's. */
  replacedWeights(): string[] {
    return [...this.current.entries()].filter(([n, t]) => this.original.get(n) !== t).map(([n]) => n);
  }

  // ---------------------------------------------------------------------------------------
  private bind(name: string, t: Tensor): void {
    if (!SUPPORTED.has(t.dtype)) throw new Error(`${name}: weights must be F32, BF16, F16, F8_E4M3 or F8_E5M2, got ${t.dtype}`);
    const w = t.nativeArgs();
    for (const s of this.slotsByName.get(name)!) native().modelBind(this.handle, s.layer, s.role, s.expert, ...w);
  }

  /** Validates ids and state, then runs in pieces (checking the signal between them). */
  private run(ids: ArrayLike<number>, state: ModelState, lastOnly: boolean, signal: AbortSignal | undefined,
    hooks: NativeHook[]): Float32Array {
    if (!(state instanceof NemotronHState) || state.owner !== this) {
      throw new Error("forward: the state was not made by this model's newState()");
    }
    const T = ids.length;
    if (T === 0) throw new RangeError("forward: no token ids");
    const V = this.vocabSize;
    const arr = new Int32Array(T);
    for (let i = 0; i < T; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= V) {
        throw new RangeError(`forward: token id ${id} at position ${i} is outside the vocabulary [0, ${V})`);
      }
      arr[i] = id;
    }
    // Pieces bound the activation memory of long prompts; boundaries fall on scan chunks. With hooks the
    // pass is one piece, so a hook sees its whole activation.
    const chunk = this.config.chunk_size;
    const piece = hooks.length > 0 ? T : Math.max(1, Math.ceil(512 / chunk)) * chunk;
    const out = new Float32Array((lastOnly ? 1 : T) * V);
    for (let p = 0; p < T; p += piece) {
      signal?.throwIfAborted();
      const n = Math.min(piece, T - p);
      const last = p + n === T;
      const dst = lastOnly ? (last ? out : new Float32Array(V)) : out.subarray(p * V, (p + n) * V);
      native().modelForward(this.handle, state.handle, arr.subarray(p, p + n), lastOnly, dst, hooks);
    }
    return out;
  }
}
