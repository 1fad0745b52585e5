/**
 * interact(fn, controls): controls above an Output; fn runs with the controls' values once and
 * again on every change, its output (what it displays, or what it returns) replacing the last in
 * place. Controls may be widgets or ipywidgets-style abbreviations. Runs never overlap: changes
 * during a run (an async fn) coalesce into one more run with the latest values.
 */
import { display, markShownInThisCell } from "../display/display";
import { Checkbox, Dropdown, FloatSlider, IntSlider, Text, VBox, type SelectOption } from "./controls";
import { Output } from "./output";
import { Widget } from "./widget";

/** A control with a value. */
export type ValueWidget<V = unknown> = Widget<any> & { value: V };

/**
 * What can stand for a control: a widget with a value; true/false (Checkbox); a string (Text);
 * a number (a slider from -n to 3n, as ipywidgets); { min, max, step?, value? } (a slider, integer
 * when all are integers); a list of options or [label, value] pairs (Dropdown).
 */
export type Abbreviation = ValueWidget | boolean | string | number | { min: number; max: number; step?: number; value?: number } | readonly SelectOption[];

export type ValuesOf<C> = {
  [K in keyof C]: C[K] extends ValueWidget<infer V> ? V
    : C[K] extends boolean ? boolean
    : C[K] extends string ? string
    : C[K] extends number ? number
    : C[K] extends { min: number } ? number
    : C[K] extends readonly (infer O)[] ? (O extends readonly [string, infer V] ? V : O)
    : never;
};

/** The control an abbreviation stands for, its description the key. */
export function widgetFor(name: string, a: Abbreviation): ValueWidget {
  if (a instanceof Widget) {
    if (!("value" in a)) throw new TypeError(`interact: control '${name}' (${(a as Widget<any>).spec.name}) has no value`);
    if (!(a as ValueWidget).get("description" as never)) (a as Widget<any>).set({ description: name });
    return a as ValueWidget;
  }
  if (typeof a === "boolean") return new Checkbox({ value: a, description: name });
  if (typeof a === "string") return new Text({ value: a, description: name });
  if (typeof a === "number") {
    if (!Number.isFinite(a)) throw new TypeError(`interact: control '${name}': ${a} is not a finite number`);
    const [min, max] = a > 0 ? [-a, 3 * a] : a < 0 ? [3 * a, -a] : [0, 1];
    return Number.isInteger(a) ? new IntSlider({ value: a, min, max, description: name }) : new FloatSlider({ value: a, min, max, step: (max - min) / 100, description: name });
  }
  if (Array.isArray(a)) return new Dropdown({ options: a, description: name });
  if (a && typeof a === "object" && typeof (a as { min?: unknown }).min === "number" && typeof (a as { max?: unknown }).max === "number") {
    const r = a as { min: number; max: number; step?: number; value?: number };
    const ints = [r.min, r.max, r.step ?? 1, r.value ?? r.min].every(Number.isInteger);
    const init = { min: r.min, max: r.max, value: r.value ?? (ints ? Math.round((r.min + r.max) / 2) : (r.min + r.max) / 2), description: name };
    return ints ? new IntSlider({ ...init, step: r.step ?? 1 }) : new FloatSlider({ ...init, step: r.step ?? (r.max - r.min) / 100 });
  }
  throw new TypeError(`interact: control '${name}': cannot make a control from ${JSON.stringify(a)}; use a widget, true/false, a string, a number, { min, max } or a list of options`);
}

export class Interactive<C extends Record<string, Abbreviation>> extends VBox {
  readonly controls: { [K in keyof C]: ValueWidget<ValuesOf<C>[K]> };
  readonly output: Output;
  /** What the last run returned. */
  result: unknown;
  /** Runs so far. */
  runs = 0;
  private busy = false;
  private again = false;
  private inFlight?: Promise<void>;

  constructor(private readonly fn: (values: ValuesOf<C>) => unknown, controls: C) {
    const made = Object.fromEntries(Object.entries(controls).map(([k, a]) => [k, widgetFor(k, a)])) as { [K in keyof C]: ValueWidget<ValuesOf<C>[K]> };
    const output = new Output();
    super([...Object.values(made), output]);
    this.controls = made;
    this.output = output;
    for (const w of Object.values(made)) w.observe("value", () => void this.update());
  }

  /** The controls' current values, as fn gets them. */
  get kwargs(): ValuesOf<C> {
    return Object.fromEntries(Object.entries(this.controls).map(([k, w]) => [k, w.value])) as ValuesOf<C>;
  }

  /** Re-runs fn now (or once more after the run in progress); resolves when the output is drawn. */
  update(): Promise<void> {
    if (this.busy) {
      this.again = true;
      return this.inFlight ?? Promise.resolve();
    }
    this.busy = true;
    // A synchronous fn draws before update() returns (so a static rendering right after has it).
    const loop = (): void | Promise<void> => {
      do {
        this.again = false;
        const p = this.runOnce();
        if (p instanceof Promise) return p.then(() => (this.again ? loop() : undefined));
      } while (this.again);
    };
    let r: void | Promise<void>;
    try {
      r = loop();
    } catch (e) {
      this.busy = false;
      throw e;
    }
    if (!(r instanceof Promise)) {
      this.busy = false;
      return Promise.resolve();
    }
    this.inFlight = r.finally(() => { this.busy = false; this.inFlight = undefined; });
    return this.inFlight;
  }

  private runOnce(): void | Promise<void> {
    this.runs++;
    return this.output.capture(() => {
      this.output.clear({ wait: true });
      const show = (r: unknown) => {
        this.result = r;
        if (r !== undefined) display(r);
      };
      let r: unknown;
      try {
        r = this.fn(this.kwargs);
      } catch (e) {
        return showError(e);
      }
      if (r instanceof Promise) return r.then(show, showError);
      show(r);
    });
  }
}

/** An error shows where the output would have been; the controls stay usable. */
function showError(e: unknown): void {
  const err = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  display({ "text/plain": err, "text/html": `<pre style="color:#b00">${err.replace(/[&<>]/g, (c) => `&#${c.charCodeAt(0)};`)}</pre>` });
}

/**
 * Controls for fn's parameters, and fn's output below them, redrawn on every change. Shows itself
 * (pass { display: false } to place it yourself); `await w.update()` waits for a run.
 */
export function interact<C extends Record<string, Abbreviation>>(fn: (values: ValuesOf<C>) => unknown, controls: C, options: { display?: boolean } = {}): Interactive<C> & { ready: Promise<void> } {
  const w = new Interactive(fn, controls) as Interactive<C> & { ready: Promise<void> };
  w.ready = w.update();
  if (options.display !== false) {
    display(w);
    markShownInThisCell(w);
  }
  return w;
}
