/**
 * The Output widget (@jupyter-widgets/output 1.0.0). Capture works as in ipywidgets: while
 * `capture(fn)` runs, the widget's `msg_id` state is the msg_id of the request being handled, and
 * the frontend routes every output parented to that request (display_data, streams, clear_output)
 * into the widget instead of the cell. A figure or table shown through it re-renders in place.
 * The kernel keeps its own copy of what was captured for the static HTML fallback.
 */
import { inspect } from "util";
import { clearOutput, getDisplaySink, mimeBundleOf, setDisplaySink, type DisplaySink, type MimeBundle } from "../display/display";
import { OUTPUT_MODULE, widgetHost } from "./protocol";
import { anyJson, int, list, noEcho, nullable, ref, str, bool } from "./props";
import { Layout, escapeHtml } from "./controls";
import { Widget, type StateOf } from "./widget";

const OUTPUT_PROPS = {
  _dom_classes: list(str("")),
  _view_count: nullable(int(0)),
  layout: ref(() => new Layout(), "a Layout"),
  msg_id: noEcho(str("")),
  outputs: noEcho(anyJson<Record<string, unknown>[]>([])),
  tabbable: nullable(bool(true)),
  tooltip: nullable(str("")),
};

interface Shown { bundle: MimeBundle; displayId?: string }

export interface Output extends StateOf<typeof OUTPUT_PROPS> {}
export class Output extends Widget<StateOf<typeof OUTPUT_PROPS>> {
  private depth = 0;
  private shown: Shown[] = [];
  private clearOnNext = false;

  constructor(init: Partial<StateOf<typeof OUTPUT_PROPS>> = {}) {
    super({ name: "Output", modelName: "OutputModel", model: OUTPUT_MODULE, viewName: "OutputView", view: OUTPUT_MODULE, props: OUTPUT_PROPS }, init);
  }

  /**
   * Runs fn with its outputs going into this widget. Works for async fn (the capture lasts until
   * it settles) and nests; returns what fn returns.
   */
  capture<T>(fn: () => T): T {
    const outer = this.depth++ === 0;
    const prevSink = getDisplaySink();
    if (outer) {
      setDisplaySink(this.recordingSink(prevSink));
      this.set({ msg_id: widgetHost()?.parentMsgId() ?? "" });
    }
    const end = () => {
      if (--this.depth === 0) {
        // Only ours is undone: a sink set meanwhile by someone else stays.
        setDisplaySink(prevSink);
        this.set({ msg_id: "" });
      }
    };
    let result: T;
    try {
      result = fn();
    } catch (e) {
      end();
      throw e;
    }
    if (result instanceof Promise) return result.finally(end) as T;
    end();
    return result;
  }

  /** Clears the widget (with wait, when the next output arrives: no flicker). */
  clear(options: { wait?: boolean } = {}): void {
    this.capture(() => clearOutput(options));
    // Without a frontend nothing trims `outputs`; keep the model honest.
    if (!options.wait && this.outputs.length) this.set({ outputs: [] });
  }

  /** Adds a display to the widget's state directly (ipywidgets' append_display_data), no capture. */
  appendDisplayData(value: unknown): void {
    const data = typeof value === "string" ? { "text/plain": value } : mimeBundleOf(value);
    this.set({ outputs: [...this.outputs, { output_type: "display_data", data, metadata: {} }] });
  }

  /** The bundles shown through capture since the last clear (what the static rendering shows). */
  get captured(): MimeBundle[] {
    return this.shown.map((s) => s.bundle);
  }

  private recordingSink(next: DisplaySink | undefined): DisplaySink {
    const take = () => { if (this.clearOnNext) { this.shown = []; this.clearOnNext = false; } };
    return {
      display: (bundle, metadata, displayId) => { take(); this.shown.push({ bundle, displayId }); next?.display(bundle, metadata, displayId); },
      update: (bundle, metadata, displayId) => {
        for (const s of this.shown) if (s.displayId === displayId) s.bundle = bundle;
        next?.update(bundle, metadata, displayId);
      },
      clear: (wait) => { if (wait) this.clearOnNext = true; else { this.shown = []; this.clearOnNext = false; } next?.clear(wait); },
    };
  }

  override staticHtml(): string {
    const fromState = this.outputs.map((o) => (o.data ?? { "text/plain": typeof o.text === "string" ? o.text : "" }) as MimeBundle);
    const parts = [...fromState, ...this.captured].map(bundleHtml);
    return `<div class="nl-widget nl-output">${parts.join("\n")}</div>`;
  }

  override toString(): string {
    return `Output(${this.captured.length + this.outputs.length} output(s))`;
  }
}

/** One mime bundle as HTML: its text/html, else its text/plain escaped. */
export function bundleHtml(b: MimeBundle): string {
  if (typeof b["text/html"] === "string") return b["text/html"];
  const text = b["text/plain"];
  return `<pre>${escapeHtml(typeof text === "string" ? text : inspect(text))}</pre>`;
}
