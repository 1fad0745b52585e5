/**
 * The core controls of @jupyter-widgets/controls 2.0.0 (ipywidgets 8), with the state keys,
 * defaults and layout/style models ipywidgets 8 sends: sliders, selections, boolean and text
 * controls, buttons, labels, HTML, boxes, tabs, Play, and jslink. Each class is its property table;
 * static HTML stands in for the view where no widget frontend runs.
 */
import { BASE_MODULE, CONTROLS_MODULE } from "./protocol";
import { anyJson, bool, choice, float, int, list, local, nullable, ref, sameValue, str, type Prop, type PropTable } from "./props";
import { Widget, type ModelSpec, type ModuleRef, type StateOf } from "./widget";

type Ctor<T> = new (...args: any[]) => T;

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function controlSpec(name: string, props: PropTable, model = `${name}Model`, view: string | null = `${name}View`, modules: { model: ModuleRef; view: ModuleRef } = { model: CONTROLS_MODULE, view: CONTROLS_MODULE }): ModelSpec {
  return { name, modelName: model, model: modules.model, viewName: view, view: modules.view, props };
}

// ---- layout and style -------------------------------------------------------------------------

const LAYOUT_KEYS = [
  "align_content", "align_items", "align_self", "border_bottom", "border_left", "border_right", "border_top", "bottom", "display", "flex", "flex_flow",
  "grid_area", "grid_auto_columns", "grid_auto_flow", "grid_auto_rows", "grid_column", "grid_gap", "grid_row", "grid_template_areas",
  "grid_template_columns", "grid_template_rows", "height", "justify_content", "justify_items", "left", "margin", "max_height", "max_width",
  "min_height", "min_width", "object_fit", "object_position", "order", "overflow", "padding", "right", "top", "visibility", "width",
] as const;

const LAYOUT_PROPS = {
  _view_count: nullable(int(0)),
  ...(Object.fromEntries(LAYOUT_KEYS.map((k) => [k, nullable(str(""))])) as Record<(typeof LAYOUT_KEYS)[number], Prop<string | null>>),
};
const LAYOUT = controlSpec("Layout", LAYOUT_PROPS, "LayoutModel", "LayoutView", { model: BASE_MODULE, view: BASE_MODULE });

export interface Layout extends StateOf<typeof LAYOUT_PROPS> {}
/** CSS layout of a widget's view (width, height, margin, flex ...), as strings. */
export class Layout extends Widget<StateOf<typeof LAYOUT_PROPS>> {
  constructor(init: Partial<StateOf<typeof LAYOUT_PROPS>> = {}) {
    super(LAYOUT, init);
  }
  /** The set properties as an inline CSS declaration list. */
  css(): string {
    return LAYOUT_KEYS.filter((k) => this[k] !== null).map((k) => `${k.replace(/_/g, "-")}:${this[k]}`).join(";");
  }
}

const n = () => nullable(str(""));
const FONT = { font_family: n(), font_size: n(), font_style: n(), font_variant: n(), font_weight: n(), text_color: n(), text_decoration: n() };
const STYLE_PROPS = {
  SliderStyle: { description_width: str(""), handle_color: n() },
  DescriptionStyle: { description_width: str("") },
  CheckboxStyle: { background: n(), description_width: str("") },
  ButtonStyle: { button_color: n(), ...FONT },
  ToggleButtonsStyle: { button_width: str(""), description_width: str(""), font_weight: str("") },
  HTMLStyle: { background: n(), description_width: str(""), font_size: n(), text_color: n() },
  LabelStyle: { background: n(), description_width: str(""), ...FONT },
  TextStyle: { background: n(), description_width: str(""), font_size: n(), text_color: n() },
};
export type StyleName = keyof typeof STYLE_PROPS;

/** A control's style model (description width, colours, fonts): `slider.style.set({ handle_color: "red" })`. */
export class Style extends Widget<Record<string, string | null>> {
  [key: string]: unknown;
  constructor(readonly styleName: StyleName, init: Record<string, string | null> = {}) {
    super(controlSpec(styleName, { _view_count: nullable(int(0)), ...STYLE_PROPS[styleName] }, `${styleName}Model`, "StyleView", { model: CONTROLS_MODULE, view: BASE_MODULE }), init);
  }
}

// ---- shared property groups -------------------------------------------------------------------

const DOM = {
  _dom_classes: list(str("")),
  _view_count: nullable(int(0)),
  layout: ref(() => new Layout(), "a Layout"),
  tabbable: nullable(bool(true)),
  tooltip: nullable(str("")),
};
const described = (style: StyleName) => ({
  ...DOM,
  description: str(""),
  description_allow_html: bool(false),
  style: ref(() => new Style(style), "a Style"),
});

function labelHtml(w: { description: string; description_allow_html?: boolean }): string {
  if (!w.description) return "";
  return `<label style="margin-right:0.5em">${w.description_allow_html ? w.description : escapeHtml(w.description)}</label>`;
}

function box(inner: string, cls: string, layout?: Layout): string {
  const css = layout?.css();
  return `<div class="nl-widget ${cls}"${css ? ` style="${escapeHtml(css)}"` : ""}>${inner}</div>`;
}

// ---- sliders ----------------------------------------------------------------------------------

const BEHAVIOR = choice(["drag-tap", "drag-snap", "tap", "drag", "snap"] as const, "drag-tap");
const ORIENTATION = choice(["horizontal", "vertical"] as const, "horizontal");
const sliderProps = <V>(value: Prop<V>, num: Prop<number>, step: number, format: string) => ({
  ...described("SliderStyle"),
  value, min: withDefault(num, 0), max: withDefault(num, 100), step: withDefault(num, step),
  behavior: BEHAVIOR, continuous_update: bool(true), disabled: bool(false), orientation: ORIENTATION, readout: bool(true), readout_format: str(format),
});

function withDefault<T>(p: Prop<T>, d: T): Prop<T> {
  return { ...p, default: () => d };
}

/** Clamping shared by the sliders and Play: value within [min, max], min <= max. */
function clampSlider(w: { min: number; max: number }, name: string, v: unknown, cls: string): unknown {
  if (name === "min" && (v as number) > w.max) throw new RangeError(`${cls}.min: ${v} is above max ${w.max}`);
  if (name === "max" && (v as number) < w.min) throw new RangeError(`${cls}.max: ${v} is below min ${w.min}`);
  if (name !== "value") return v;
  const c = (x: number) => Math.min(w.max, Math.max(w.min, x));
  return Array.isArray(v) ? v.map(c) : c(v as number);
}

function sliderHtml(w: { description: string; value: number | number[]; min: number; max: number; step: number; readout: boolean; layout: Layout }, cls: string): string {
  const value = Array.isArray(w.value) ? w.value : [w.value];
  const track = `<input type="range" disabled min="${w.min}" max="${w.max}" step="${w.step}" value="${value[0]}" style="vertical-align:middle">`;
  return box(`${labelHtml(w)}${track}${w.readout ? ` <output>${value.join(" – ")}</output>` : ""}`, cls, w.layout);
}

abstract class SliderBase<S extends { min: number; max: number }> extends Widget<S> {
  protected override coerce(name: string, v: unknown): unknown {
    return clampSlider(this as unknown as { min: number; max: number }, name, v, this.spec.name);
  }
  protected override changed(name: string): void {
    // New bounds re-clamp the value.
    if (name === "min" || name === "max") this.set({ value: (this as unknown as { value: unknown }).value } as unknown as Partial<S>);
  }
  override staticHtml(): string {
    return sliderHtml(this as never, "nl-slider");
  }
}

const INT_SLIDER_PROPS = sliderProps(int(0), int(0), 1, "d");
export interface IntSlider extends StateOf<typeof INT_SLIDER_PROPS> {}
export class IntSlider extends SliderBase<StateOf<typeof INT_SLIDER_PROPS>> {
  constructor(init: Partial<StateOf<typeof INT_SLIDER_PROPS>> = {}) {
    super(controlSpec("IntSlider", INT_SLIDER_PROPS), init);
  }
}

const FLOAT_SLIDER_PROPS = sliderProps(float(0), float(0), 0.1, ".2f");
export interface FloatSlider extends StateOf<typeof FLOAT_SLIDER_PROPS> {}
export class FloatSlider extends SliderBase<StateOf<typeof FLOAT_SLIDER_PROPS>> {
  constructor(init: Partial<StateOf<typeof FLOAT_SLIDER_PROPS>> = {}) {
    super(controlSpec("FloatSlider", FLOAT_SLIDER_PROPS), init);
  }
}

function intPair(): Prop<[number, number]> {
  const item = int(0);
  return {
    ...list(item, () => [25, 75]) as unknown as Prop<[number, number]>,
    check: (v, where) => {
      if (!Array.isArray(v) || v.length !== 2) throw new TypeError(`${where}: expected [lower, upper], got ${JSON.stringify(v)}`);
      const [a, b] = [item.check(v[0], `${where}[0]`), item.check(v[1], `${where}[1]`)];
      if (a > b) throw new RangeError(`${where}: lower ${a} is above upper ${b}`);
      return [a, b];
    },
  };
}
const INT_RANGE_PROPS = sliderProps(intPair(), int(0), 1, "d");
export interface IntRangeSlider extends StateOf<typeof INT_RANGE_PROPS> {}
export class IntRangeSlider extends SliderBase<StateOf<typeof INT_RANGE_PROPS>> {
  constructor(init: Partial<StateOf<typeof INT_RANGE_PROPS>> = {}) {
    super(controlSpec("IntRangeSlider", INT_RANGE_PROPS), init);
  }
  protected override prepare(values: Record<string, unknown>, init: Record<string, unknown>): void {
    // As ipywidgets: without a value, the middle half of the range.
    if (init.value === undefined) {
      const lo = values.min as number, hi = values.max as number;
      values.value = [Math.round(lo + 0.25 * (hi - lo)), Math.round(lo + 0.75 * (hi - lo))];
    }
  }
}

const PLAY_PROPS = {
  ...described("DescriptionStyle"),
  value: int(0), min: int(0), max: withDefault(int(0), 100), step: withDefault(int(0), 1), interval: withDefault(int(0), 100),
  disabled: bool(false), playing: bool(false), repeat: bool(false), show_repeat: bool(true),
};
export interface Play extends StateOf<typeof PLAY_PROPS> {}
/** Steps its value from min to max every `interval` ms in the frontend; jslink it to a slider. */
export class Play extends SliderBase<StateOf<typeof PLAY_PROPS>> {
  constructor(init: Partial<StateOf<typeof PLAY_PROPS>> = {}) {
    super(controlSpec("Play", PLAY_PROPS), init);
  }
  override staticHtml(): string {
    return box(`${labelHtml(this)}<button disabled>&#9654;</button> <output>${this.value}</output>`, "nl-play", this.layout);
  }
}

// ---- selections -------------------------------------------------------------------------------

/** An option: a label that is its own value, or [label, value]. */
export type SelectOption<V = unknown> = string | number | readonly [string, V];

function optionsProp(): Prop<[string, unknown][]> {
  return local({
    ...anyJson<[string, unknown][]>([]),
    check: (v, where) => {
      if (!Array.isArray(v)) throw new TypeError(`${where}: expected a list of options (labels, or [label, value] pairs), got ${JSON.stringify(v)}`);
      return v.map((o, i) => {
        if (typeof o === "string" || typeof o === "number") return [String(o), o] as [string, unknown];
        if (Array.isArray(o) && o.length === 2 && typeof o[0] === "string") return [o[0], o[1]] as [string, unknown];
        throw new TypeError(`${where}[${i}]: expected a label or a [label, value] pair, got ${JSON.stringify(o)}`);
      });
    },
  });
}

const selectionProps = (style: StyleName) => ({
  ...described(style),
  _options_labels: list(str("")),
  index: nullable(int(0)),
  disabled: bool(false),
  options: optionsProp(),
  value: local(anyJson<unknown>(null)),
  label: local(nullable(str(""))),
});

/** Dropdown and ToggleButtons: the frontend syncs `index`; options, value and label live here. */
abstract class Selection<S extends { index: number | null; options: [string, unknown][]; value: unknown; label: string | null }> extends Widget<S> {
  protected override prepare(values: Record<string, unknown>, init: Record<string, unknown>): void {
    const opts = values.options as [string, unknown][];
    values._options_labels = opts.map((o) => o[0]);
    if (init.value !== undefined) values.index = this.indexOf("value", init.value, opts);
    else if (init.label !== undefined) values.index = this.indexOf("label", init.label, opts);
    else if (init.index === undefined) values.index = opts.length ? 0 : null;
    const i = values.index as number | null;
    if (i !== null && (i < 0 || i >= opts.length)) throw new RangeError(`${this.spec.name}.index: ${i} is outside the ${opts.length} options`);
    values.value = i === null ? null : opts[i][1];
    values.label = i === null ? null : opts[i][0];
  }

  private indexOf(what: "value" | "label", v: unknown, opts: [string, unknown][]): number | null {
    if (v === null) return null;
    const i = opts.findIndex((o) => sameValue(what === "label" ? o[0] : o[1], v));
    if (i < 0) throw new RangeError(`${this.spec.name}.${what}: ${JSON.stringify(v)} is not one of the options (${opts.map((o) => o[0]).join(", ") || "none"})`);
    return i;
  }

  protected override coerce(name: string, v: unknown): unknown {
    const opts = (this as unknown as S).options;
    if (name === "index" && v !== null && opts && ((v as number) < 0 || (v as number) >= opts.length)) {
      throw new RangeError(`${this.spec.name}.index: ${v} is outside the ${opts.length} options`);
    }
    if ((name === "value" || name === "label") && opts) this.indexOf(name, v, opts);   // throws when absent
    return v;
  }

  protected override changed(name: string, _old: unknown, v: unknown): void {
    const self = this as unknown as S;
    const opts = self.options;
    if (name === "options") {
      const keep = opts.findIndex((o) => sameValue(o[1], self.value));
      const i = keep >= 0 ? keep : opts.length ? 0 : null;
      // The index may stay the same while its option changed: value and label are set explicitly.
      this.set({ _options_labels: opts.map((o) => o[0]), index: i, value: i === null ? null : opts[i][1], label: i === null ? null : opts[i][0] } as unknown as Partial<S>);
    } else if (name === "index") {
      const i = v as number | null;
      this.set({ value: i === null ? null : opts[i][1], label: i === null ? null : opts[i][0] } as Partial<S>);
    } else if (name === "value" || name === "label") {
      this.set({ index: this.indexOf(name, v, opts) } as Partial<S>);
    }
  }
}

const DROPDOWN_PROPS = selectionProps("DescriptionStyle");
export interface Dropdown extends StateOf<typeof DROPDOWN_PROPS> {}
export class Dropdown extends Selection<StateOf<typeof DROPDOWN_PROPS>> {
  constructor(init: Partial<Omit<StateOf<typeof DROPDOWN_PROPS>, "options">> & { options?: readonly SelectOption[] } = {}) {
    super(controlSpec("Dropdown", DROPDOWN_PROPS), init as never);
  }
  override staticHtml(): string {
    const opts = this.options.map((o, i) => `<option${i === this.index ? " selected" : ""}>${escapeHtml(o[0])}</option>`).join("");
    return box(`${labelHtml(this)}<select disabled>${opts}</select>`, "nl-dropdown", this.layout);
  }
}

const BUTTON_STYLE = choice(["primary", "success", "info", "warning", "danger", ""] as const, "");
const TOGGLE_PROPS = { ...selectionProps("ToggleButtonsStyle"), button_style: BUTTON_STYLE, icons: list(str("")), tooltips: list(str("")) };
export interface ToggleButtons extends StateOf<typeof TOGGLE_PROPS> {}
export class ToggleButtons extends Selection<StateOf<typeof TOGGLE_PROPS>> {
  constructor(init: Partial<Omit<StateOf<typeof TOGGLE_PROPS>, "options">> & { options?: readonly SelectOption[] } = {}) {
    super(controlSpec("ToggleButtons", TOGGLE_PROPS), init as never);
  }
  override staticHtml(): string {
    const b = this.options.map((o, i) => `<button disabled${i === this.index ? ' style="font-weight:bold" aria-pressed="true"' : ""}>${escapeHtml(o[0])}</button>`).join("");
    return box(`${labelHtml(this)}${b}`, "nl-toggle-buttons", this.layout);
  }
}

// ---- boolean, text, button, label, html -------------------------------------------------------

const CHECKBOX_PROPS = { ...described("CheckboxStyle"), value: bool(false), disabled: bool(false), indent: bool(true) };
export interface Checkbox extends StateOf<typeof CHECKBOX_PROPS> {}
export class Checkbox extends Widget<StateOf<typeof CHECKBOX_PROPS>> {
  constructor(init: Partial<StateOf<typeof CHECKBOX_PROPS>> = {}) {
    super(controlSpec("Checkbox", CHECKBOX_PROPS), init);
  }
  override staticHtml(): string {
    return box(`<label><input type="checkbox" disabled${this.value ? " checked" : ""}> ${escapeHtml(this.description)}</label>`, "nl-checkbox", this.layout);
  }
}

const PLACEHOLDER = "\u200b";
const TEXT_PROPS = { ...described("TextStyle"), value: str(""), placeholder: str(PLACEHOLDER), continuous_update: bool(true), disabled: bool(false) };
export interface Text extends StateOf<typeof TEXT_PROPS> {}
export class Text extends Widget<StateOf<typeof TEXT_PROPS>> {
  constructor(init: Partial<StateOf<typeof TEXT_PROPS>> = {}) {
    super(controlSpec("Text", TEXT_PROPS), init);
  }
  /** Calls fn when the user presses Enter in the frontend. */
  onSubmit(fn: (w: Text) => void): void {
    this.onCustom((c) => { if ((c as { event?: string })?.event === "submit") fn(this); });
  }
  override staticHtml(): string {
    return box(`${labelHtml(this)}<input type="text" disabled value="${escapeHtml(this.value)}">`, "nl-text", this.layout);
  }
}

const BUTTON_PROPS = { ...DOM, style: ref(() => new Style("ButtonStyle"), "a Style"), description: str(""), button_style: BUTTON_STYLE, disabled: bool(false), icon: str("") };
export interface Button extends StateOf<typeof BUTTON_PROPS> {}
export class Button extends Widget<StateOf<typeof BUTTON_PROPS>> {
  private readonly clicks: ((b: Button) => void)[] = [];
  constructor(init: Partial<StateOf<typeof BUTTON_PROPS>> = {}) {
    super(controlSpec("Button", BUTTON_PROPS), init);
    this.onCustom((c) => { if ((c as { event?: string })?.event === "click") this.click(); });
  }
  /** Calls fn on every click (in the frontend, or click() here). */
  onClick(fn: (b: Button) => void): void {
    this.clicks.push(fn);
  }
  /** Clicks the button from the kernel side, as a frontend click would. */
  click(): void {
    for (const fn of this.clicks) fn(this);
  }
  override staticHtml(): string {
    return box(`<button disabled>${escapeHtml(this.description)}</button>`, "nl-button", this.layout);
  }
}

const LABEL_PROPS = { ...described("LabelStyle"), value: str(""), placeholder: str(PLACEHOLDER) };
export interface Label extends StateOf<typeof LABEL_PROPS> {}
export class Label extends Widget<StateOf<typeof LABEL_PROPS>> {
  constructor(init: Partial<StateOf<typeof LABEL_PROPS>> = {}) {
    super(controlSpec("Label", LABEL_PROPS), init);
  }
  override staticHtml(): string {
    return box(`${labelHtml(this)}<span>${escapeHtml(this.value)}</span>`, "nl-label", this.layout);
  }
}

const HTML_PROPS = { ...described("HTMLStyle"), value: str(""), placeholder: str(PLACEHOLDER) };
export interface HTML extends StateOf<typeof HTML_PROPS> {}
/** Shows its value as HTML. */
export class HTML extends Widget<StateOf<typeof HTML_PROPS>> {
  constructor(init: Partial<StateOf<typeof HTML_PROPS>> = {}) {
    super(controlSpec("HTML", HTML_PROPS), init);
  }
  override staticHtml(): string {
    return box(`${labelHtml(this)}${this.value}`, "nl-html", this.layout);
  }
}

// ---- containers -------------------------------------------------------------------------------

const children = () => list(ref<Widget<any>>(() => { throw new TypeError("no default child"); }, "a widget"));
const BOX_STYLE = choice(["success", "info", "warning", "danger", ""] as const, "");
const BOX_PROPS = { ...DOM, box_style: BOX_STYLE, children: children() };
type BoxState = StateOf<typeof BOX_PROPS>;
type BoxInit = Partial<BoxState>;

abstract class BoxBase extends Widget<BoxState> {
  constructor(name: string, kids: Widget<any>[] | BoxInit) {
    super(controlSpec(name, BOX_PROPS), Array.isArray(kids) ? { children: kids } : kids);
  }
}
export interface HBox extends BoxState {}
/** Children side by side. */
export class HBox extends BoxBase {
  constructor(kids: Widget<any>[] | BoxInit = []) {
    super("HBox", kids);
  }
  override staticHtml(): string {
    return box(this.children.map((c) => c.staticHtml()).join(""), "nl-hbox\" style=\"display:flex;flex-flow:row wrap;gap:0.5em;align-items:flex-start", this.layout);
  }
}
export interface VBox extends BoxState {}
/** Children one below the other. */
export class VBox extends BoxBase {
  constructor(kids: Widget<any>[] | BoxInit = []) {
    super("VBox", kids);
  }
  override staticHtml(): string {
    return box(this.children.map((c) => c.staticHtml()).join(""), "nl-vbox\" style=\"display:flex;flex-direction:column;gap:0.3em", this.layout);
  }
}

const TAB_PROPS = { ...BOX_PROPS, selected_index: nullable(int(0)), titles: list(str("")) };
export interface Tab extends StateOf<typeof TAB_PROPS> {}
/** One child shown at a time, chosen by titled tabs. */
export class Tab extends Widget<StateOf<typeof TAB_PROPS>> {
  constructor(init: Partial<StateOf<typeof TAB_PROPS>> | Widget<any>[] = {}) {
    super(controlSpec("Tab", TAB_PROPS), Array.isArray(init) ? { children: init } : init);
  }
  protected override prepare(values: Record<string, unknown>, init: Record<string, unknown>): void {
    const kids = values.children as unknown[];
    values.titles = kids.map((_, i) => (values.titles as string[])[i] ?? "");
    if (init.selected_index === undefined && kids.length) values.selected_index = 0;
  }
  protected override coerce(name: string, v: unknown): unknown {
    if (name === "selected_index" && v !== null && ((v as number) < 0 || (v as number) >= (this.children?.length ?? 0))) {
      throw new RangeError(`Tab.selected_index: ${v} is outside the ${this.children?.length ?? 0} children`);
    }
    return v;
  }
  protected override changed(name: string): void {
    if (name === "children") {
      this.set({ titles: this.children.map((_, i) => this.titles[i] ?? ""), selected_index: this.children.length ? Math.min(this.selected_index ?? 0, this.children.length - 1) : null });
    }
  }
  override staticHtml(): string {
    const heads = this.children.map((_, i) => `<span style="padding:0.2em 0.8em;border-bottom:${i === this.selected_index ? "2px solid #1976d2" : "1px solid #ccc"}">${escapeHtml(this.titles[i] || `${i}`)}</span>`).join("");
    const body = this.selected_index === null ? "" : this.children[this.selected_index].staticHtml();
    return box(`<div>${heads}</div><div>${body}</div>`, "nl-tab", this.layout);
  }
}

// ---- links ------------------------------------------------------------------------------------

type Endpoint = readonly [Widget<any>, string];
function endpoint(): Prop<Endpoint> {
  const r = ref<Widget<any>>(() => { throw new TypeError("a link needs an endpoint"); });
  return {
    ...r,
    default: () => { throw new TypeError("a link needs an endpoint"); },
    check: (v, where) => {
      if (!Array.isArray(v) || v.length !== 2 || typeof v[1] !== "string") throw new TypeError(`${where}: expected [widget, "property"], got ${JSON.stringify(v)}`);
      const w = r.check(v[0], `${where}[0]`) as Widget<any>;
      if (!(v[1] in w.spec.props)) throw new TypeError(`${where}: ${w.spec.name} has no property '${v[1]}'`);
      return [w, v[1]] as const;
    },
    toJson: (e) => [r.toJson(e[0]), e[1]],
    fromJson: (v, where) => (Array.isArray(v) ? [r.fromJson(v[0], where), v[1]] : v),
  };
}
const LINK_PROPS = { source: endpoint(), target: endpoint() };
export interface Link extends StateOf<typeof LINK_PROPS> {}
/** A frontend-side link: the frontend keeps target's property equal to source's, no kernel round trip. */
export class Link extends Widget<StateOf<typeof LINK_PROPS>> {
  constructor(init: StateOf<typeof LINK_PROPS>) {
    super({ ...controlSpec("Link", LINK_PROPS, "LinkModel", null), props: LINK_PROPS }, init);
  }
  override staticHtml(): string {
    return "";
  }
}

/** Links two widgets' properties in the frontend (ipywidgets' jslink): `jslink([play, "value"], [slider, "value"])`. */
export function jslink(source: Endpoint, target: Endpoint): Link {
  return new Link({ source, target });
}

export type { Ctor };
