/**
 * lab.explore(checkpointOrModel): an FP8 explorer built from widgets. Pick a block kind, a layer
 * and a tensor to see its stats and value histogram; pick the FP8 format, granularity and scale
 * choice to see the error metrics and error histogram redraw; "quantize in model" swaps the
 * quantized tensor into the live model and shows KL / top-1 against the original model on a
 * prompt; "revert" puts the originals back. Every redraw goes through one Output (capture), so
 * figures replace themselves in place; without a widget frontend the static HTML shows the
 * first selection.
 */
import { Checkpoint } from "../model/checkpoint";
import { NemotronH } from "../model/nemotron-h";
import { quantizeTensor, toFp8Tensor, type Granularity, type QuantizedTensor } from "../fp8/quantize";
import type { Fp8Format } from "../fp8/codec";
import { distributionShift, recordLogits, type DistributionShift, type LogitsRecord } from "../quant/compare";
import { tensorInfos, type TensorInfo } from "../quant/selector";
import { TextTokenizer } from "../text/tokenizer";
import { valueHistogram, errorHistogram } from "../quant/plots";
import { clearOutput, display } from "../display/display";
import { Button, Dropdown, HBox, HTML, ToggleButtons, VBox } from "./controls";
import { escapeHtml } from "../util/format";
import { Output } from "./output";

export interface ExploreOptions {
  /** Text of the prompt KL / top-1 are measured on (tokenized with the checkpoint's tokenizer). */
  prompt?: string;
  /** Token ids instead of a prompt. */
  promptIds?: number[];
  /** Histogram bins (default 100). */
  bins?: number;
  /** Show the explorer at once (default true). */
  display?: boolean;
}

const SCALES = ["amax", "percentile:99.99", "percentile:99.9", "search"] as const;
const DEFAULT_PROMPT = "The hybrid Mamba-Transformer model reads the prompt and";

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5) ? v.toExponential(3) : v.toFixed(4);
}

function table(rows: [string, string][]): string {
  return `<table class="nl-table" style="font-family:monospace;border-collapse:collapse">${rows.map(([k, v]) => `<tr><td style="padding:0 1em 0 0">${escapeHtml(k)}</td><td style="text-align:right">${escapeHtml(v)}</td></tr>`).join("")}</table>`;
}

export class Explorer extends VBox {
  readonly checkpoint!: Checkpoint;
  readonly kind!: ToggleButtons;
  readonly layer!: Dropdown;
  readonly tensor!: Dropdown;
  readonly format!: ToggleButtons;
  readonly granularity!: ToggleButtons;
  readonly scale!: Dropdown;
  readonly stats!: HTML;
  readonly metrics!: HTML;
  readonly plots!: Output;
  readonly quantizeButton!: Button;
  readonly revertButton!: Button;
  readonly result!: HTML;
  /** The quantization of the selected tensor with the selected options. */
  quantized?: QuantizedTensor;
  /** The last KL / top-1 measurement (after quantize or revert). */
  shift?: DistributionShift;
  /** Milliseconds the last redraw took (control change to figures sent). */
  lastRedrawMs = 0;
  private modelRef?: NemotronH;
  private base?: LogitsRecord;
  private readonly swapped = new Set<string>();
  private readonly universe: TensorInfo[];
  private readonly bins: number;

  constructor(source: Checkpoint | NemotronH | string, private readonly options: ExploreOptions = {}) {
    const ckpt = source instanceof NemotronH ? source.checkpoint : typeof source === "string" ? Checkpoint.open(source) : source;
    if (!ckpt.config) throw new Error(`explore: ${ckpt.dir} has no config.json; the explorer needs the layer plan to list tensors`);
    const universe = tensorInfos(ckpt.config, (n) => ckpt.has(n)).filter((t) => t.linear);
    if (!universe.length) throw new Error(`explore: ${ckpt.dir} has no linear weights to quantize`);
    const kinds = [...new Set(universe.map((t) => t.kind))];
    const kind = new ToggleButtons({ options: kinds, description: "kind" });
    const layer = new Dropdown({ description: "layer" });
    const tensor = new Dropdown({ description: "tensor" });
    const format = new ToggleButtons({ options: ["e4m3", "e5m2"], description: "format" });
    const granularity = new ToggleButtons({ options: ["tensor", "channel", "block"], description: "granularity" });
    const scale = new Dropdown({ options: [...SCALES], description: "scale" });
    const stats = new HTML(), metrics = new HTML(), result = new HTML({ value: "<i>quantize to measure KL / top-1 against the original</i>" });
    const plots = new Output();
    const quantizeButton = new Button({ description: "quantize in model", button_style: "primary" });
    const revertButton = new Button({ description: "revert", disabled: true });
    super([
      new HBox([kind, layer, tensor]), new HBox([format, granularity, scale]), new HBox([stats, metrics]), plots,
      new HBox([quantizeButton, revertButton, result]),
    ]);
    Object.assign(this, { checkpoint: ckpt, kind, layer, tensor, format, granularity, scale, stats, metrics, plots, quantizeButton, revertButton, result });
    this.universe = universe;
    this.bins = options.bins ?? 100;
    if (source instanceof NemotronH) this.modelRef = source;
    kind.observe("value", () => this.fillLayers());
    layer.observe("value", () => this.fillTensors());
    tensor.observe("value", () => this.redraw());
    format.observe("value", () => this.redraw());
    granularity.observe("value", () => this.redraw());
    scale.observe("value", () => this.redraw());
    quantizeButton.onClick(() => this.quantizeInModel());
    revertButton.onClick(() => this.revert());
    this.fillLayers();
  }

  /** The loaded model (loaded from the checkpoint on first use). */
  get model(): NemotronH {
    return (this.modelRef ??= NemotronH.load(this.checkpoint));
  }

  private fillLayers(): void {
    const layers = [...new Set(this.universe.filter((t) => t.kind === this.kind.value).map((t) => t.layer))];
    this.layer.set({ options: layers.map((l) => [l < 0 ? "-" : String(l), l] as [string, number]) });
    this.fillTensors();
  }

  private fillTensors(): void {
    const names = this.universe.filter((t) => t.kind === this.kind.value && t.layer === this.layer.value).map((t) => t.name);
    const before = this.tensor.value;
    this.tensor.set({ options: names.map((n) => [n.split(".").slice(-2).join("."), n] as [string, string]) });
    // Options that keep the selected tensor do not fire a change: redraw for the new layer anyway.
    if (this.tensor.value === before) this.redraw();
  }

  /** Recomputes stats, quantization, metrics and figures for the current selection; errors show in place. */
  redraw(): void {
    const name = this.tensor.value as string | null;
    if (!name) return;
    try {
      this.draw(name);
    } catch (e) {
      this.metrics.value = `<pre style="color:#b00">${escapeHtml(`${(e as Error).name}: ${(e as Error).message}`)}</pre>`;
    }
  }

  private draw(name: string): void {
    const t0 = performance.now();
    const t = this.checkpoint.tensor(name);
    const s = t.stats({ percentiles: [0.1, 50, 99.9] });
    const q = quantizeTensor(t, { format: this.format.value as Fp8Format, granularity: this.granularity.value as Granularity, scale: this.scale.value as string, pad: true });
    this.quantized = q;
    const m = q.metrics!;
    this.stats.value = `<b>${escapeHtml(name)}</b> ${escapeHtml(t.dtype)} [${t.shape.join(", ")}]` + table([
      ["min", fmt(s.min)], ["max", fmt(s.max)], ["mean", fmt(s.mean)], ["std", fmt(s.std)], ["absmax", fmt(s.absmax)],
      ["p0.1", fmt(s.percentiles!["0.1"])], ["p50", fmt(s.percentiles!["50"])], ["p99.9", fmt(s.percentiles!["99.9"])],
    ]);
    this.metrics.value = `<b>FP8 ${q.format}, ${q.granularity}, ${escapeHtml(String(this.scale.value))}</b>` + table([
      ["SQNR dB", m.sqnrDb.toFixed(2)], ["rel L2", fmt(m.relL2)], ["max |err|", fmt(m.maxAbs)], ["mean |err|", fmt(m.meanAbs)],
      ["cosine", m.cosine.toFixed(6)], ["clipped", `${(100 * m.fracClipped).toFixed(4)}%`], ["flushed to 0", `${(100 * m.fracFlushedZero).toFixed(4)}%`],
      ["scales", String(q.scales.length)],
    ]);
    const value = valueHistogram(t, q, { bins: this.bins });
    const err = errorHistogram(t, q, { bins: this.bins });
    for (const f of [value, err]) f.layout = { ...f.layout, height: 320, margin: { t: 40, b: 40, l: 50, r: 10 } };
    this.plots.capture(() => {
      clearOutput({ wait: true });
      display(value);
      display(err);
    });
    this.lastRedrawMs = performance.now() - t0;
  }

  private promptIds(): number[] {
    if (this.options.promptIds) return this.options.promptIds;
    try {
      return TextTokenizer.load(this.checkpoint.dir).encode(this.options.prompt ?? DEFAULT_PROMPT);
    } catch (e) {
      throw new Error(`explore: cannot tokenize the prompt with ${this.checkpoint.dir}'s tokenizer (${(e as Error).message}); pass promptIds`);
    }
  }

  private measure(what: string): void {
    const model = this.model;
    const ids = this.promptIds();
    const rec = recordLogits(model, [ids], { progress: false });
    this.shift = distributionShift(this.base!, rec);
    const sh = this.shift;
    this.result.value = `<b>${escapeHtml(what)}</b> KL mean <span class="nl-kl">${sh.klMean.toExponential(4)}</span> nats, ` +
      `top-1 agreement ${(100 * sh.top1Agreement).toFixed(1)}% of ${sh.tokens} positions`;
  }

  /** Swaps the selected tensor, quantized as selected, into the live model; measures KL / top-1. */
  quantizeInModel(): void {
    const q = this.quantized;
    if (!q) return;
    const model = this.model;
    // The original's logits, recorded once before the explorer changes anything.
    if (!this.base) this.base = recordLogits(model, [this.promptIds()], { progress: false, label: "original model" });
    model.replaceWeight(q.name, toFp8Tensor(q));
    this.swapped.add(q.name);
    this.revertButton.disabled = false;
    this.measure(`${this.swapped.size} tensor(s) in FP8, last ${q.name}:`);
  }

  /** Restores every tensor the explorer swapped. */
  revert(): void {
    if (!this.swapped.size) return;
    for (const n of this.swapped) this.model.restoreWeight(n);
    this.swapped.clear();
    this.revertButton.disabled = true;
    this.measure("reverted:");
  }
}

/** The FP8 explorer on a checkpoint (path, repo id or Checkpoint) or a loaded model. */
export function explore(source: Checkpoint | NemotronH | string, options: ExploreOptions = {}): Explorer {
  const e = new Explorer(source, options);
  if (options.display !== false) display(e);
  return e;
}
