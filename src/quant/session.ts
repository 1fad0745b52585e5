/**
 * Live FP8 quantization of a loaded model: the selected weights are quantized by the
 * native fused kernel and swapped into the running model (replaceWeight, no reload), so
 * it runs on them through its FP8 kernels; revert() puts the originals back exactly.
 * Optionally the selected linears' input activations are fake-quantized too: a static
 * per-tensor scale calibrated on prompts, or a dynamic per-token scale (this needs the
 * model's activation hooks, see ActivationQuantHooks in ./model).
 */
import { QuantizeOptions, QuantizedTensor, quantizeTensor, toFp8Tensor } from "../fp8/quantize";
import { FP8_MAX, Fp8Format } from "../fp8/codec";
import { progress } from "../util/progress";
import { abortError } from "../io/writer";
import { QuantizableModel, hasActivationHooks, ActivationQuant } from "./model";
import { TensorInfo, selectTensors, tensorInfos } from "./selector";
import { workSignal } from "../util/cancel";
import { beginUndo } from "../util/undo";
import { QuantReport, reportRow } from "./report";

export interface ActivationOptions {
  mode: "static" | "dynamic";
  format?: Fp8Format;
  /** Token id sequences to calibrate the static scales on (required for "static"). */
  prompts?: ArrayLike<number>[];
}

export interface ModelQuantOptions extends QuantizeOptions {
  /** Selector string (see ./selector); default "nvidia-fp8". */
  layers?: string;
  /** Allow high-precision tensors (norms, A_log, conv1d, ...) to be selected by glob. */
  force?: boolean;
  activations?: ActivationOptions;
  signal?: AbortSignal;
  /** Progress label. */
  label?: string;
}

export interface QuantEntry {
  info: TensorInfo;
  q: QuantizedTensor;
  /** Static input scale (activations "static"). */
  inputScale?: number;
}

/** The universe of tensors a model offers to selectors. */
export function modelTensors(model: QuantizableModel): TensorInfo[] {
  const linear = new Set(model.linearWeights());
  return tensorInfos(model.config).map((t) => ({ ...t, linear: t.linear && linear.has(t.name) }));
}

export class QuantSession {
  private active = true;

  constructor(
    readonly model: QuantizableModel,
    readonly entries: QuantEntry[],
    readonly options: ModelQuantOptions,
    readonly report: QuantReport,
    readonly activations?: { mode: "static" | "dynamic"; format: Fp8Format },
  ) {}

  get names(): string[] {
    return this.entries.map((e) => e.q.name);
  }

  get applied(): boolean {
    return this.active;
  }

  entry(name: string): QuantEntry {
    const e = this.entries.find((x) => x.q.name === name);
    if (!e) throw new RangeError(`this quantization did not touch '${name}'; it quantized ${this.names.slice(0, 5).join(", ")}${this.names.length > 5 ? ", ..." : ""}`);
    return e;
  }

  /** Restores the original weights (and activations) of every quantized tensor. */
  revert(): void {
    if (!this.active) return;
    for (const e of this.entries) {
      this.model.restoreWeight(e.q.name);
      if (this.activations && hasActivationHooks(this.model)) this.model.setInputQuant(e.q.name, undefined);
    }
    this.active = false;
  }

  toString(): string {
    return this.report.toString();
  }

  [Symbol.for("Jupyter.display")](): Record<string, string> {
    return { "text/html": this.report.toHtml(), "text/plain": this.report.toString() };
  }
}

/** Quantizes the selected weights of a live model in place; returns the session (report, revert). */
export function quantizeModel(model: QuantizableModel, options: ModelQuantOptions = {}): QuantSession {
  const signal = workSignal(options.signal);
  const universe = modelTensors(model);
  const names = selectTensors(options.layers ?? "nvidia-fp8", universe, { force: options.force });
  const byName = new Map(universe.map((t) => [t.name, t]));
  const act = options.activations;
  const actFormat = act?.format ?? "e4m3";
  let inputScales: Map<string, number> | undefined;
  if (act) {
    if (!hasActivationHooks(model)) {
      throw new Error("activation quantization needs the model's activation hooks (setInputQuant / observeInputAmax), which this model does not have; quantize weights only (leave out activations)");
    }
    if (act.mode === "static") inputScales = calibrateInputScales(model, names, act.prompts, actFormat, signal);
    else if (act.mode !== "dynamic") throw new RangeError(`activations.mode must be "static" or "dynamic", got ${JSON.stringify(act.mode)}`);
  }
  const entries: QuantEntry[] = [];
  const bar = progress(options.label ?? "quantizing", names.length);
  try {
    for (const name of names) {
      if (signal?.aborted) throw abortError(signal);
      const w = model.weight(name);
      const q = quantizeTensor(w, options);
      entries.push({ info: byName.get(name)!, q, inputScale: inputScales?.get(name) });
      bar.update(entries.length, name);
    }
  } finally {
    bar.finish();
  }
  // Swap in only once every tensor quantized: an error or an interrupt leaves the model untouched.
  const rows = entries.map((e) => {
    const w = model.weight(e.q.name);
    return reportRow(e.q, e.info.layer, e.info.kind, w.nbytes, e.inputScale);
  });
  const session = new QuantSession(model, entries, options, new QuantReport(rows), act ? { mode: act.mode, format: actFormat } : undefined);
  // The swaps are one step: interrupted half-way (the kernel rolls the journal back), none stays.
  const pending = beginUndo("quantizeModel: swapping in FP8 weights", () => session.revert());
  for (const e of entries) {
    model.replaceWeight(e.q.name, toFp8Tensor(e.q));
    if (act && hasActivationHooks(model)) {
      const spec: ActivationQuant = act.mode === "static" ? { format: actFormat, mode: "static", scale: e.inputScale } : { format: actFormat, mode: "dynamic" };
      model.setInputQuant(e.q.name, spec);
    }
  }
  pending.commit();
  return session;
}

/** Static per-tensor input scales: max |input| of each linear over the prompts, / fmax. */
export function calibrateInputScales(model: QuantizableModel, names: string[], prompts: ArrayLike<number>[] | undefined,
  format: Fp8Format, signal?: AbortSignal): Map<string, number> {
  if (!hasActivationHooks(model)) throw new Error("calibration needs the model's activation hooks (observeInputAmax)");
  if (!prompts?.length) throw new RangeError("static activation quantization needs calibration prompts (activations.prompts: token id arrays)");
  // Journaled first: an interrupt anywhere leaves no observer on.
  let obs: { stop(): Map<string, number> } | undefined;
  const pending = beginUndo("calibration: observing input amax", () => { (obs ?? model.observeInputAmax(names)).stop(); });
  obs = model.observeInputAmax(names);
  let amax: Map<string, number>;
  const bar = progress("calibrating activations", prompts.length);
  try {
    prompts.forEach((p, i) => {
      if (signal?.aborted) throw abortError(signal);
      model.forward(p, model.newState({ maxTokens: p.length }), { signal });
      bar.update(i + 1);
    });
  } finally {
    amax = obs.stop();
    pending.commit();
    bar.finish();
  }
  const out = new Map<string, number>();
  for (const n of names) {
    const a = amax.get(n) ?? 0;
    out.set(n, a > 0 && Number.isFinite(a) ? Math.fround(Math.fround(a) / FP8_MAX[format]) : 1);
  }
  return out;
}
