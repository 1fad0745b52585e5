/**
 * A plotly figure as plain data ({data, layout}) that renders itself: in Jupyter through
 * the plotly mime bundle of src/display (application/vnd.plotly.v1+json with an offline
 * text/html fallback), and as a standalone HTML page with plotly.js inlined once. Plotly
 * itself does the drawing; this file only packages the JSON.
 */
import * as fs from "fs";
import { escapeHtml } from "../util/format";
import { plotlyBundle, plotlySource } from "./plotly";

export type Trace = Record<string, unknown>;
export type Layout = Record<string, unknown>;

let figureId = 0;

function json(x: unknown): string {
  return JSON.stringify(x, (_k, v) => (ArrayBuffer.isView(v) ? Array.from(v as unknown as ArrayLike<number>) : typeof v === "number" && !Number.isFinite(v) ? null : v))
    .replace(/</g, "\\u003c");
}

/** A title in the form plotly.js 3 and later draw: {text}; a plain string is dropped by them silently. */
function titleObject(t: unknown): unknown {
  return typeof t === "string" ? { text: t } : t;
}

/** `o` with its `title` in object form, when it has one. */
function withTitle<T extends Record<string, unknown>>(o: T): T {
  return o && typeof o === "object" && "title" in o ? { ...o, title: titleObject(o.title) } : o;
}

/**
 * The layout and traces with every title in object form: the figure's, each axis' (xaxis, yaxis2,
 * ...), the legend's and each colorbar's. Callers (and plotly's Python examples) often write the
 * older `title: "..."`, which the plotly.js we ship (4.x) ignores, leaving figures unlabelled.
 */
function objectTitles(data: Trace[], layout: Layout): { data: Trace[]; layout: Layout } {
  const out: Layout = withTitle(layout);
  for (const [k, v] of Object.entries(layout)) {
    if (/^[xyz]axis\d*$|^legend\d*$/.test(k) && v && typeof v === "object") out[k] = withTitle(v as Record<string, unknown>);
  }
  const colorbar = (o: Record<string, unknown>) => (o.colorbar && typeof o.colorbar === "object" ? { ...o, colorbar: withTitle(o.colorbar as Record<string, unknown>) } : o);
  if (layout.coloraxis && typeof layout.coloraxis === "object") out.coloraxis = colorbar(layout.coloraxis as Record<string, unknown>);
  return { data: data.map((t) => colorbar(t.marker && typeof t.marker === "object" ? { ...t, marker: colorbar(t.marker as Record<string, unknown>) } : t)), layout: out };
}

export class Figure {
  constructor(public data: Trace[], public layout: Layout = {}, public config: Record<string, unknown> = { responsive: true }) {}

  get title(): string {
    const t = this.layout.title;
    return typeof t === "string" ? t : (t as { text?: string } | undefined)?.text ?? "figure";
  }

  /** {data, layout} as JSON-ready objects (typed arrays become arrays, non-finite numbers null, titles as {text}). */
  toJSON(): { data: Trace[]; layout: Layout } {
    return JSON.parse(json(objectTitles(this.data, this.layout)));
  }

  /** A <div> and the script drawing it; plotly.js is defined first when `inline` (skipped if the page has it). */
  toHtml(options: { inline?: boolean } = {}): string {
    const id = `nl-fig-${process.pid}-${++figureId}`;
    const lib = options.inline ? `if (typeof window.Plotly === "undefined") {\n${plotlySource()}\n}\n` : "";
    const fig = objectTitles(this.data, this.layout);
    return `<div id="${id}" style="width:100%;min-height:${(this.layout.height as number | undefined) ?? 450}px"></div>\n` +
      `<script type="text/javascript">(function(){\n${lib}window.Plotly.newPlot(${JSON.stringify(id)}, ${json(fig.data)}, ${json(fig.layout)}, ${json(this.config)});\n})();</script>`;
  }

  /** A standalone HTML file with plotly.js inlined. */
  writeHtml(file: string): void {
    fs.writeFileSync(file, htmlPage(this.title, [this]));
  }

  toString(): string {
    return `Figure(${this.title}: ${this.data.length} trace(s))`;
  }

  /** In notebooks: the plotly mime type plus an offline HTML fallback (src/display/display.ts). */
  [Symbol.for("Jupyter.display")](): Record<string, unknown> {
    return { ...plotlyBundle({ ...this.toJSON(), config: this.config }), "text/plain": this.toString() };
  }
}

/** Something that can sit in a page: a figure, anything with toHtml(), or raw HTML. */
export type PagePart = Figure | { toHtml(): string } | string;

/** One HTML page of figures and tables, plotly.js inlined once at the top. */
export function htmlPage(title: string, parts: PagePart[]): string {
  const body = parts.map((p) => (typeof p === "string" ? p : p instanceof Figure ? p.toHtml({ inline: false }) : p.toHtml())).join("\n<hr/>\n");
  return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>\n` +
    `<script type="text/javascript">${plotlySource()}</script>\n` +
    `<style>body{font-family:sans-serif;margin:1.5em} table{font-size:12px} th,td{padding:2px 6px;border-bottom:1px solid #ddd}</style></head>\n` +
    `<body><h2>${escapeHtml(title)}</h2>\n${body}\n</body></html>\n`;
}
