/**
 * A plotly figure as plain data ({data, layout}) that renders itself: in Jupyter through
 * the plotly mime type (application/vnd.plotly.v1+json) with a text/html fallback that
 * carries plotly.js inlined from the plotly.js-dist-min package (no CDN, so it works
 * offline in classic Notebook, JupyterLab and nbconvert HTML), and as a standalone HTML
 * file. Plotly itself does the drawing; this file only packages the JSON.
 */
import * as fs from "fs";
import { escapeHtml } from "../util/format";

export type Trace = Record<string, unknown>;
export type Layout = Record<string, unknown>;

let plotlyJs: string | undefined;
let figureId = 0;

/** plotly.min.js from the plotly.js-dist-min package, made safe to put inside a <script>. */
export function plotlySource(): string {
  if (plotlyJs === undefined) {
    const file = require.resolve("plotly.js-dist-min/plotly.min.js");
    plotlyJs = fs.readFileSync(file, "utf8").replace(/<\/script/gi, "<\\/script");
  }
  return plotlyJs;
}

/** When the text/html fallback carries plotly.js: "always" (default: every output stands alone) or "never". */
let inlineMode: "always" | "never" = "always";
export function setPlotlyInline(mode: "always" | "never"): void {
  inlineMode = mode;
}

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
    const lib = options.inline ?? inlineMode === "always" ? `if (typeof window.Plotly === "undefined") {\n${plotlySource()}\n}\n` : "";
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

  [Symbol.for("Jupyter.display")](): Record<string, unknown> {
    return { "application/vnd.plotly.v1+json": this.toJSON(), "text/html": this.toHtml(), "text/plain": this.toString() };
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
