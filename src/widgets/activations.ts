/**
 * lab.exploreActivations(model, prompt): the lens views as an explorer built from widgets. Pick a
 * mixer kind (Mamba-2 or attention), a layer and a head to see that head's attention pattern or
 * Mamba-2 effective attention over the prompt's tokens; move the position slider to see the logit
 * lens at that position (each block's top tokens). The pass over the prompt runs once for the block
 * outputs; a layer's [heads, T, T] matrices are recorded on first pick and kept, so moving the head
 * slider only redraws. Without a widget frontend the static HTML shows the first selection.
 */
import type { NemotronH } from "../model/nemotron-h";
import type { ActivationCache } from "../model/activation-cache";
import { attentionPatternView, effectiveAttentionView, logitLens } from "../lens/views";
import { TextTokenizer } from "../text/tokenizer";
import { clearOutput, display } from "../display/display";
import { escapeHtml } from "../util/format";
import { HBox, HTML, IntSlider, Dropdown, ToggleButtons, VBox } from "./controls";
import { Output } from "./output";

export interface ExploreActivationsOptions {
  /** Token text for the axes and the lens (default: the checkpoint's tokenizer, else the id). */
  decode?: (id: number) => string;
  /** Tokens per layer in the logit lens (default 3). */
  top?: number;
  /** Show the explorer at once (default true). */
  display?: boolean;
}

type MixerKind = "mamba" | "attention";
const HOOK: Record<MixerKind, string> = { mamba: "effective_attention", attention: "pattern" };

export class ActivationExplorer extends VBox {
  readonly kind!: ToggleButtons;
  readonly layer!: Dropdown;
  readonly head!: IntSlider;
  readonly position!: IntSlider;
  readonly plot!: Output;
  readonly lens!: HTML;
  readonly ids!: number[];
  readonly labels!: string[];
  /** Milliseconds the last redraw took (control change to figure sent). */
  lastRedrawMs = 0;
  private settingBounds = false;
  private readonly decode!: (id: number) => string;
  private readonly squares = new Map<number, ActivationCache>();
  private readonly lensRows: ReturnType<typeof logitLens>;

  constructor(readonly model: NemotronH, prompt: string | ArrayLike<number>, options: ExploreActivationsOptions = {}) {
    const decode = options.decode ?? defaultDecode(model);
    const ids = typeof prompt === "string" ? TextTokenizer.load(model.checkpoint.dir).encode(prompt) : Array.from(prompt);
    if (ids.length === 0) throw new RangeError("exploreActivations: the prompt has no tokens");
    const kinds = (["mamba", "attention"] as const).filter((k) => model.checkpoint.plan.some((l) => l.kind === k));
    if (!kinds.length) throw new Error(`exploreActivations: ${model.checkpoint.dir} has no Mamba-2 or attention layers to look into`);
    const kind = new ToggleButtons({ options: [...kinds], description: "mixer" });
    const layer = new Dropdown({ description: "layer" });
    const head = new IntSlider({ description: "head", min: 0, max: 0 });
    const position = new IntSlider({ description: "position", min: 0, max: ids.length - 1, value: ids.length - 1 });
    const plot = new Output(), lens = new HTML();
    super([new HBox([kind, layer, head]), plot, position, lens]);
    const labels = ids.map((id) => decode(id));
    Object.assign(this, { kind, layer, head, position, plot, lens, ids, labels, decode });
    const base = model.runWithCache(ids, { names: model.checkpoint.plan.map((l) => l.path) });
    this.lensRows = logitLens(model, base, options.top ?? 3);
    kind.observe("value", () => this.fillLayers());
    layer.observe("value", () => this.redraw());
    head.observe("value", () => this.redraw());
    position.observe("value", () => this.drawLens());
    this.fillLayers();
    this.drawLens();
  }

  private fillLayers(): void {
    const layers = this.model.checkpoint.plan.filter((l) => l.kind === this.kind.value).map((l) => l.index);
    const before = this.layer.value;
    this.layer.set({ options: layers.map((l) => [String(l), l] as [string, number]) });
    if (this.layer.value === before) this.redraw();
  }

  /** The selected layer's [heads, T, T] matrices, recorded once. */
  private squareCache(layer: number): ActivationCache {
    let c = this.squares.get(layer);
    if (!c) {
      c = this.model.runWithCache(this.ids, { names: [`backbone.layers.${layer}.mixer.${HOOK[this.kind.value as MixerKind]}`] });
      this.squares.set(layer, c);
    }
    return c;
  }

  /** Redraws the selected head's matrix; errors show in place. */
  redraw(): void {
    const layer = this.layer.value as number | null;
    if (layer === null || this.settingBounds) return;
    const t0 = performance.now();
    try {
      const cache = this.squareCache(layer);
      const heads = cache.get(cache.names()[0]).shape[0];
      if (this.head.max !== heads - 1) {
        // A new bound may clamp the value: its change event must not redraw half-way through this one.
        this.settingBounds = true;
        try { this.head.max = heads - 1; } finally { this.settingBounds = false; }
      }
      const view = this.kind.value === "mamba" ? effectiveAttentionView : attentionPatternView;
      const fig = view(cache, layer, this.head.value, this.labels);
      fig.layout = { ...fig.layout, height: 420, margin: { t: 40, b: 80, l: 80, r: 10 } };
      this.plot.capture(() => {
        clearOutput({ wait: true });
        display(fig);
      });
    } catch (e) {
      this.plot.capture(() => {
        clearOutput({ wait: true });
        display({ "text/html": `<pre style="color:#b00">${escapeHtml(`${(e as Error).name}: ${(e as Error).message}`)}</pre>`, "text/plain": (e as Error).message }, { raw: true });
      });
    }
    this.lastRedrawMs = performance.now() - t0;
  }

  /** The logit lens at the selected position: each block's top tokens and probabilities. */
  private drawLens(): void {
    const p = this.position.value, { layers, ids, probs } = this.lensRows;
    const plan = this.model.checkpoint.plan;
    const cell = (l: number, k: number) => `${escapeHtml(JSON.stringify(this.decode(ids[l][p][k])))} ${probs[l][p][k].toFixed(3)}`;
    const rows = layers.map((layer, l) => `<tr><td>${layer}</td><td>${plan[layer].kind}</td>${ids[l][p].map((_, k) => `<td>${cell(l, k)}</td>`).join("")}</tr>`).join("");
    this.lens.value = `<b>logit lens at position ${p} (${escapeHtml(JSON.stringify(this.labels[p]))}): top tokens after each block</b>` +
      `<table class="nl-table nl-lens" style="font-family:monospace;font-size:12px"><tr><th>layer</th><th>kind</th>${ids[0][p].map((_, k) => `<th>top ${k + 1}</th>`).join("")}</tr>${rows}</table>`;
  }
}

function defaultDecode(model: NemotronH): (id: number) => string {
  try {
    const tok = TextTokenizer.load(model.checkpoint.dir);
    return (id) => tok.decode([id]);
  } catch {
    return String;
  }
}

/** The activation explorer of a loaded model on a prompt (text or token ids). */
export function exploreActivations(model: NemotronH, prompt: string | ArrayLike<number>, options: ExploreActivationsOptions = {}): ActivationExplorer {
  const e = new ActivationExplorer(model, prompt, options);
  if (options.display !== false) display(e);
  return e;
}
