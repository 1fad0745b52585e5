/**
 * Plotly figures as notebook outputs: the application/vnd.plotly.v1+json mime bundle with its
 * small HTML fallback, and plotly.js itself (from plotly.js-dist-min) for pages that carry it.
 */
import { randomUUID } from "crypto";
import * as fs from "fs";
import type { MimeBundle } from "../display/display";

export interface PlotlyFigure {
  data: unknown[];
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
}

let plotlyInlined = false;
let plotlyJs: string | undefined;
let inlineDefault: "never" | "once" | "always" = "never";

/** plotly.min.js from the plotly.js-dist-min package, safe to put inside a <script>. */
export function plotlySource(): string {
  plotlyJs ??= fs.readFileSync(require.resolve("plotly.js-dist-min/plotly.min.js"), "utf8").replace(/<\/script/gi, "<\\/script");
  return plotlyJs;
}

/**
 * Whether figures' HTML fallback carries plotly.js: "never" (default: JupyterLab draws the plotly
 * mime type with the renderer `kernel install` puts in place, and the report loads plotly.js
 * itself), "once" per process (for frontends with neither; later figures wait for window.Plotly)
 * or "always" (every output stands alone).
 */
export function setPlotlyInline(mode: "never" | "once" | "always"): void {
  inlineDefault = mode;
}

/** Safe inside <script>: no "</script>" or "<!--" can end the element early. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/**
 * A plotly figure as application/vnd.plotly.v1+json (JupyterLab draws it with our renderer, the
 * report with its plotly.js) plus a small text/html fallback: it draws where the page already has
 * window.Plotly and otherwise says how to get the renderer. With inline "once" (the first figure
 * of a process) or "always", the fallback carries plotly.js from plotly.js-dist-min (4.9 MB).
 */
export function plotlyBundle(figure: PlotlyFigure, options: { inline?: "never" | "once" | "always"; height?: number } = {}): MimeBundle {
  const fig = { data: figure.data, layout: figure.layout ?? {}, config: figure.config ?? {} };
  const id = `plotly-${randomUUID()}`;
  const mode = options.inline ?? inlineDefault;
  const inline = mode === "always" || (mode === "once" && !plotlyInlined);
  if (inline) plotlyInlined = true;
  const height = options.height ?? (typeof fig.layout.height === "number" ? fig.layout.height : 420);
  const plot = `var n = document.getElementById(${scriptJson(`${id}-note`)}); if (n) n.remove(); ` +
    `Plotly.newPlot(${scriptJson(id)}, ${scriptJson(fig.data)}, ${scriptJson(fig.layout)}, ${scriptJson({ responsive: true, ...fig.config })});`;
  const html =
    `<div id="${id}" style="width:100%;max-width:100%;height:${height}px"></div>\n` +
    `<div id="${id}-note" style="font-size:small;color:#777">plotly figure: run <code>npx nemotron-lab kernel install</code> for JupyterLab's renderer</div>\n` +
    (inline ? `<script type="text/javascript">if (!window.Plotly) {\n${plotlySource()}\n}</script>\n` : "") +
    `<script type="text/javascript">(function () {\n` +
    `  var tries = 0;\n` +
    `  function draw() { if (window.Plotly) { ${plot} } else if (tries++ < ${inline ? 200 : 20}) { setTimeout(draw, 50); } }\n` +
    `  draw();\n})();</script>`;
  const t = (fig.layout as { title?: string | { text?: string } }).title;
  const title = typeof t === "string" ? t : t?.text;
  const text = `<plotly figure: ${fig.data.length} trace(s)${title ? `, "${title}"` : ""}>`;
  return { "application/vnd.plotly.v1+json": fig, "text/html": html, "text/plain": text };
}
