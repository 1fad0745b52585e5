/**
 * NemotronH: the hybrid Mamba-2 / attention / MLP (/ MoE) causal LM on the native backend.
 *
 * TypeScript holds the plan (which tensor, by checkpoint path, feeds which layer slot) and
 * the current weight of every slot; the native model object is built from the plan once
 * and runs the whole layer loop per call. Swapping a weight (e.g. for an FP8 copy) re-binds
 * one pointer; nothing is copied, and the stored dtype (F32/BF16/F16/FP8 + scale) is read
 * by the kernels directly, so a checkpoint runs in about its file size of memory.
 * Activations can be captured by hook name (backbone.layers.3, backbone.layers.3.mixer, ...).
 */
import { BackendName, native, NativeHandle } from "../backend/native";
import { BackendChoice, resolveBackend } from "../backend/select";
import { Checkpoint } from "../io/checkpoint";
import { NemotronHConfig, derivedSizes } from "../io/config";
import { Tensor } from "../tensor/tensor";
import { formatShape } from "../util/format";
import { BLOCK_KIND, HOOK_POINT, PlanSlot, ROLE, executionPlan } from "./plan";
import { CausalLM, ForwardOptions, ModelState } from "./types";
import type { ActivationQuant } from "../quant/model";

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

const SUPPORTED = new Set(["F32", "BF16", "F16", "F8_E4M3", "F8_E5M2"]);

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

  private constructor(readonly checkpoint: Checkpoint, options: LoadOptions) {
    if (!checkpoint.config) throw new Error(`${checkpoint.dir}: no config.json, so the model cannot be built`);
    const c = checkpoint.config;
    checkpoint.validate();
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
   * Full pass from a fresh state capturing activations by hook name: `backbone.embeddings`,
   * `backbone.layers.{i}` (residual stream after block i), `backbone.layers.{i}.mixer`
   * (mixer output), `backbone.layers.{i}.norm` (mixer input), `backbone.norm_f`. Each is
   * a [T, hidden] Float32Array. Default: every block output and mixer output.
   */
  runWithCache(ids: ArrayLike<number>, names?: string[], options: { signal?: AbortSignal } = {}):
    { logits: Float32Array; cache: Map<string, Float32Array> } {
    const wanted = names ?? this.plan.filter((s) => s.role === 0).flatMap((s) => [`backbone.layers.${s.layer}`, `backbone.layers.${s.layer}.mixer`]);
    const T = ids.length;
    const H = this.config.hidden_size;
    const cache = new Map<string, Float32Array>();
    const hooks: [number, number, Float32Array][] = [];
    for (const name of wanted) {
      const [layer, point] = this.hookPoint(name);
      const buf = new Float32Array(T * H);
      cache.set(name, buf);
      hooks.push([layer, point, buf]);
    }
    const logits = this.run(ids, this.newState({ maxTokens: 0 }), false, options.signal, hooks);
    return { logits, cache };
  }

  /** Every hook name this model offers. */
  hookNames(): string[] {
    const out = ["backbone.embeddings"];
    for (let i = 0; i < this.config.num_hidden_layers; i++) out.push(`backbone.layers.${i}.norm`, `backbone.layers.${i}.mixer`, `backbone.layers.${i}`);
    out.push("backbone.norm_f");
    return out;
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
   * undefined turns it off. CPU backends only.
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

  private hookPoint(name: string): [number, number] {
    const L = this.config.num_hidden_layers;
    if (name === "backbone.embeddings") return [-1, HOOK_POINT.embed];
    if (name === "backbone.norm_f") return [L, HOOK_POINT.norm_f];
    const m = /^backbone\.layers\.(\d+)(?:\.(mixer|norm))?$/.exec(name);
    if (m && Number(m[1]) < L) return [Number(m[1]), m[2] === "mixer" ? HOOK_POINT.mixer : m[2] === "norm" ? HOOK_POINT.norm : HOOK_POINT.block];
    throw new Error(`NemotronH: unknown hook '${name}'; hooks are backbone.embeddings, backbone.layers.{0..${L - 1}}[.mixer|.norm], backbone.norm_f`);
  }

  /** Validates ids and state, then runs in pieces (checking the signal between them). */
  private run(ids: ArrayLike<number>, state: ModelState, lastOnly: boolean, signal: AbortSignal | undefined,
    hooks: [number, number, Float32Array][]): Float32Array {
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
    // Pieces bound the activation memory of long prompts; boundaries fall on scan chunks.
    const chunk = this.config.chunk_size;
    const piece = Math.max(1, Math.ceil(512 / chunk)) * chunk;
    const H = this.config.hidden_size;
    const out = new Float32Array((lastOnly ? 1 : T) * V);
    for (let p = 0; p < T; p += piece) {
      signal?.throwIfAborted();
      const n = Math.min(piece, T - p);
      const last = p + n === T;
      const dst = lastOnly ? (last ? out : new Float32Array(V)) : out.subarray(p * V, (p + n) * V);
      const pieceHooks = hooks.map(([l, pt, buf]) => [l, pt, buf.subarray(p * H, (p + n) * H)] as [number, number, Float32Array]);
      native().modelForward(this.handle, state.handle, arr.subarray(p, p + n), lastOnly, dst, pieceHooks);
    }
    return out;
  }
}
