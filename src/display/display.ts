/**
 * Rich display for notebooks. Objects render themselves through Symbol.for("Jupyter.display"), a
 * method returning a mime bundle (Deno's convention), so nothing here knows about tensors or plots.
 * The Jupyter kernel installs a sink that publishes display_data; outside a kernel, display()
 * prints the text/plain part to stdout. The sink lives on globalThis so that two copies of this
 * package (the kernel's and a notebook's node_modules) still share it.
 */
import { randomUUID } from "crypto";
import { inspect } from "util";
import { workSignal } from "../util/cancel";
import { escapeHtml } from "../util/format";

export const DISPLAY_SYMBOL: unique symbol = Symbol.for("Jupyter.display") as never;

export type MimeBundle = Record<string, unknown>;

/** What a self-displaying object implements. */
export interface Displayable {
  [DISPLAY_SYMBOL](): MimeBundle;
}

export interface DisplayOptions {
  /** Names this output so later calls can replace it in place; true picks a fresh id. */
  displayId?: string | true;
  /** Replace the output named by displayId instead of adding a new one. */
  update?: boolean;
  /** Treat `value` as a mime bundle even if it does not look like one. */
  raw?: boolean;
  metadata?: Record<string, unknown>;
}

export interface DisplaySink {
  display(bundle: MimeBundle, metadata: Record<string, unknown>, displayId?: string): void;
  update(bundle: MimeBundle, metadata: Record<string, unknown>, displayId: string): void;
  clear(wait: boolean): void;
}

const SINK_KEY = Symbol.for("nemotron-lab.displaySink");

export function setDisplaySink(sink: DisplaySink | undefined): void {
  (globalThis as Record<symbol, unknown>)[SINK_KEY] = sink;
}

export function getDisplaySink(): DisplaySink | undefined {
  return (globalThis as Record<symbol, unknown>)[SINK_KEY] as DisplaySink | undefined;
}

/** True for a plain object whose keys are all mime types ("text/html", "image/png", ...). */
export function isMimeBundle(v: unknown): v is MimeBundle {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  const keys = Object.keys(v);
  return keys.length > 0 && keys.every((k) => /^[\w.+-]+\/[\w.+-]+$/.test(k));
}

const SHOWN_IN_CELL = Symbol.for("nemotron-lab.shownInCell");

/**
 * For calls that show what they return (lab.interact, like ipywidgets' interact): the value is
 * not shown a second time as the result of the cell that made it. Later cells still show it.
 */
export function markShownInThisCell(value: object): void {
  const cell = workSignal();
  if (cell) Object.defineProperty(value, SHOWN_IN_CELL, { value: cell, configurable: true });
}

/** True when `value` was shown by its maker in the cell whose signal is `cell`. */
export function shownInCell(value: unknown, cell: AbortSignal): boolean {
  return value !== null && typeof value === "object" && (value as Record<symbol, unknown>)[SHOWN_IN_CELL] === cell;
}

/** The bundle a value renders as: its own (Symbol.for("Jupyter.display")) plus text/plain. */
export function mimeBundleOf(value: unknown): MimeBundle {
  const own = value !== null && (typeof value === "object" || typeof value === "function")
    ? (value as Partial<Displayable>)[DISPLAY_SYMBOL]
    : undefined;
  if (typeof own === "function") {
    const bundle = own.call(value);
    if (isMimeBundle(bundle)) {
      return "text/plain" in bundle ? bundle : { ...bundle, "text/plain": inspect(value, { depth: 2 }) };
    }
  }
  return { "text/plain": inspect(value, { depth: 4, colors: false }) };
}

export interface DisplayHandle {
  readonly displayId: string;
  update(value: unknown, options?: Omit<DisplayOptions, "displayId" | "update">): void;
}

/**
 * Shows `value` (or a raw mime bundle) below the running cell. With a displayId (a string, or
 * true for a fresh one) it returns a handle whose update() replaces this output in place; without
 * one it returns nothing, so `display(x)` as a cell's last line adds no result (as in IPython).
 */
export function display(value: unknown, options: DisplayOptions & { displayId: string | true }): DisplayHandle;
export function display(value: unknown, options?: DisplayOptions): DisplayHandle | undefined;
export function display(value: unknown, options: DisplayOptions = {}): DisplayHandle | undefined {
  // A string shown on purpose is text, not a quoted value.
  const bundle = options.raw || isMimeBundle(value) ? (value as MimeBundle)
    : typeof value === "string" ? { "text/plain": value } : mimeBundleOf(value);
  const metadata = options.metadata ?? {};
  const sink = getDisplaySink();
  if (options.update && typeof options.displayId !== "string") throw new Error("display(..., { update: true }) needs a displayId");
  const displayId = options.displayId === true ? randomUUID() : options.displayId;
  if (sink) {
    if (options.update) sink.update(bundle, metadata, displayId!);
    else sink.display(bundle, metadata, displayId);
  } else {
    const text = bundle["text/plain"];
    process.stdout.write(`${typeof text === "string" ? text : inspect(bundle)}\n`);
  }
  if (displayId === undefined) return undefined;
  return {
    displayId,
    update: (v, o = {}) => void display(v, { ...o, displayId, update: true }),
  };
}

/** Clears the cell's output; with wait, only when the next output arrives (no flicker). */
export function clearOutput(options: { wait?: boolean } = {}): void {
  getDisplaySink()?.clear(!!options.wait);
}

/** A progress bar that updates in place (update_display_data); text bar outside a kernel. */
export class ProgressDisplay {
  private readonly handle?: DisplayHandle;
  private done = 0;
  private lastDraw = 0;
  private finished = false;
  private readonly started = Date.now();

  constructor(readonly label: string, readonly total: number, private readonly minIntervalMs = 100) {
    if (getDisplaySink()) this.handle = display(this.bundle(""), { raw: true, displayId: true });
  }

  update(done: number, note = ""): void {
    this.done = done;
    const now = Date.now();
    // Throttled: a token loop may call this thousands of times per second.
    if (now - this.lastDraw < this.minIntervalMs && done < this.total) return;
    this.lastDraw = now;
    this.draw(note);
  }

  finish(note = ""): void {
    if (this.finished) return;
    this.finished = true;
    this.done = Math.max(this.done, this.total);
    this.draw(note || `done in ${((Date.now() - this.started) / 1000).toFixed(1)} s`);
  }

  private draw(note: string): void {
    if (this.handle) this.handle.update(this.bundle(note), { raw: true });
  }

  private bundle(note: string): MimeBundle {
    const total = Math.max(this.total, 0);
    const frac = total > 0 ? Math.min(this.done / total, 1) : 0;
    const width = 30;
    const filled = Math.round(frac * width);
    const text = `${this.label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${this.done}/${total}${note ? ` ${note}` : ""}`;
    const html =
      `<div class="nemotron-lab-progress" style="font-family:monospace">` +
      `<span>${escapeHtml(this.label)}</span> ` +
      `<progress value="${this.done}" max="${total}" style="width:20em;vertical-align:middle"></progress> ` +
      `<span>${this.done}/${total}${note ? ` ${escapeHtml(note)}` : ""}</span></div>`;
    return { "text/plain": text, "text/html": html };
  }
}
