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

export class Figure {
  constructor(public data: Trace[], public layout: Layout = {}, public config: Record<string, unknown> = { responsive: true }) {}

  get title(): string {
    const t = this.layout.title;
    return typeof t === "string" ? t : (t as { text?: string } | undefined)?.text ?? "figure";
  }

  /** {data, layout} as JSON-ready objects (typed arrays become arrays, non-finite numbers null). */
  toJSON(): { data: Trace[]; layout: Layout } {
    return JSON.parse(json({ data: this.data, layout: this.layout }));
  }

  /** A <div> and the script drawing it; plotly.js is defined first when `inline` (skipped if the page has it). */
  toHtml(options: { inline?: boolean } = {}): string {
    const id = `nl-fig-${process.pid}-${++figureId}`;
    const lib = options.inline ? `if (typeof window.Plotly === "undefined") {\n${plotlySource()}\n}\n` : "";
    return `<div id="${id}" style="width:100%;min-height:${(this.layout.height as number | undefined) ?? 450}px"></div>\n` +
      `<script type="text/javascript">(function(){\n${lib}window.Plotly.newPlot(${JSON.stringify(id)}, ${json(this.data)}, ${json(this.layout)}, ${json(this.config)});\n})();</script>`;
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
