/**
 * The report of a run: one standalone page per executed notebook, an index page, and the assets
 * they share, written once into the output folder (plotly.js, KaTeX's stylesheet and fonts, the
 * page style and the script that draws the figures). Pages reference assets by relative path, so
 * they open from file:// with no server and no network.
 */
import * as fs from "fs";
import * as path from "path";
import { escapeHtml } from "../util/format";
import { codeCells, joinSource, writeNotebook, type Notebook } from "./nbformat";
import { IdSource, renderCell, renderMarkdown } from "./render";
import type { NotebookRun } from "./execute";

const ASSETS = "assets";

/** What the page style needs beyond highlight.js's GitHub theme. */
const CSS = `
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 0; color: #1f2328; background: #fff; }
main { max-width: 1040px; margin: 0 auto; padding: 1rem 1.5rem 4rem; }
nav.top { position: sticky; top: 0; background: #f6f8fa; border-bottom: 1px solid #d0d7de; padding: .5rem 1.5rem; font-size: 14px; z-index: 10; }
nav.top a { margin-right: 1.2rem; color: #0969da; text-decoration: none; }
.run-info { color: #57606a; font-size: 13px; margin: .25rem 0 1rem; }
.banner { border: 1px solid #cf222e; background: #ffebe9; padding: .6rem .9rem; border-radius: 6px; margin: 1rem 0; }
.banner.ok { border-color: #1a7f37; background: #dafbe1; }
.cell { margin: .75rem 0; }
.cell.markdown { line-height: 1.5; }
.cell.markdown table, .markdown-output table { border-collapse: collapse; margin: .5rem 0; }
.cell.markdown th, .cell.markdown td { border: 1px solid #d0d7de; padding: 3px 8px; }
.cell.markdown code { background: #f6f8fa; padding: 0 3px; border-radius: 3px; font-size: 90%; }
.input { display: flex; gap: .5rem; align-items: flex-start; }
.prompt { flex: 0 0 5.5rem; text-align: right; font: 12px/1.6 "DejaVu Sans Mono", monospace; color: #57606a; padding-top: .55rem; }
.prompt .time { display: block; font-size: 11px; color: #8c959f; }
pre.source { flex: 1; min-width: 0; margin: 0; padding: .5rem .75rem; background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; overflow-x: auto; font-size: 13px; }
.cell.failed pre.source { border-color: #cf222e; }
.cell.not-run pre.source { opacity: .6; }
.outputs { margin-left: 6rem; }
.output { margin: .3rem 0; overflow-x: auto; }
.output pre { margin: 0; padding: .25rem .5rem; font-size: 12.5px; white-space: pre-wrap; word-break: break-word; }
pre.stderr { background: #fff8c5; }
pre.error-output { background: #ffebe9; border-left: 3px solid #cf222e; white-space: pre; }
.html-output table { border-collapse: collapse; font-size: 12.5px; }
.html-output th, .html-output td { padding: 2px 8px; border-bottom: 1px solid #d8dee4; }
.nl-plot { width: 100%; }
.image-output img { max-width: 100%; }
table.runs { border-collapse: collapse; margin: 1rem 0; }
table.runs th, table.runs td { border-bottom: 1px solid #d0d7de; padding: 4px 10px; text-align: left; }
table.runs td.num { text-align: right; font-variant-numeric: tabular-nums; }
.status-ok { color: #1a7f37; } .status-error, .status-interrupted { color: #cf222e; }
dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dl.summary dt { color: #57606a; } dl.summary dd { margin: 0; font-variant-numeric: tabular-nums; }
.ansi-bold { font-weight: bold; } .ansi-red-fg { color: #cf222e; } .ansi-green-fg { color: #1a7f37; }
.ansi-yellow-fg { color: #9a6700; } .ansi-blue-fg { color: #0969da; } .ansi-magenta-fg { color: #8250df; }
.ansi-cyan-fg { color: #1b7c83; } .ansi-white-fg { color: #6e7781; } .ansi-black-fg { color: #24292f; }
.ansi-bright-red-fg { color: #a40e26; } .ansi-bright-green-fg { color: #116329; } .ansi-bright-blue-fg { color: #0550ae; }
`;

/** Draws every figure of a page with the plotly.js beside it; marks each one drawn. */
const DRAW_SCRIPT = `(function () {
  function draw() {
    var blocks = document.querySelectorAll("script.nl-plot-data");
    for (var i = 0; i < blocks.length; i++) {
      var fig = JSON.parse(blocks[i].textContent);
      var el = document.getElementById(blocks[i].getAttribute("data-for"));
      var layout = Object.assign({ autosize: true }, fig.layout || {});
      var config = Object.assign({ displaylogo: false }, fig.config || {}, { responsive: true });
      Plotly.newPlot(el, fig.data, layout, config).then(function (gd) { gd.setAttribute("data-drawn", "true"); });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw); else draw();
})();
`;

function copyIfChanged(src: string, dst: string): void {
  if (fs.existsSync(dst) && fs.statSync(dst).size === fs.statSync(src).size) return;
  fs.copyFileSync(src, dst);
}

/** Writes the shared assets into `dir`/assets (plotly.js once, whatever the number of pages). */
export function writeAssets(dir: string): void {
  const assets = path.join(dir, ASSETS);
  fs.mkdirSync(path.join(assets, "katex", "fonts"), { recursive: true });
  copyIfChanged(require.resolve("plotly.js-dist-min/plotly.min.js"), path.join(assets, "plotly.min.js"));
  const katexDist = path.dirname(require.resolve("katex/dist/katex.min.css"));
  copyIfChanged(path.join(katexDist, "katex.min.css"), path.join(assets, "katex", "katex.min.css"));
  // Browsers take the first format they support: woff2, so the older formats stay behind.
  for (const f of fs.readdirSync(path.join(katexDist, "fonts")).filter((f) => f.endsWith(".woff2"))) {
    copyIfChanged(path.join(katexDist, "fonts", f), path.join(assets, "katex", "fonts", f));
  }
  const theme = fs.readFileSync(require.resolve("highlight.js/styles/github.min.css"), "utf8");
  fs.writeFileSync(path.join(assets, "report.css"), `${theme}\n${CSS}`);
  fs.writeFileSync(path.join(assets, "report.js"), DRAW_SCRIPT);
}

/** The notebook's title: its first markdown heading, else its file name. */
export function notebookTitle(nb: Notebook, fallback: string): string {
  for (const c of nb.cells) {
    if (c.cell_type !== "markdown") continue;
    const m = /^#{1,6}\s+(.+)$/m.exec(joinSource(c.source));
    if (m) return m[1].replace(/[*_`]/g, "").trim();
  }
  return fallback;
}

function head(title: string, withPlotly: boolean): string {
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>${escapeHtml(title)}</title>` +
    `<link rel="stylesheet" href="${ASSETS}/report.css"><link rel="stylesheet" href="${ASSETS}/katex/katex.min.css">` +
    (withPlotly ? `<script src="${ASSETS}/plotly.min.js"></script>` : "") +
    `</head>\n`;
}

function seconds(s: number): string {
  return s < 10 ? `${s.toFixed(2)} s` : `${s.toFixed(1)} s`;
}

function statusText(run: NotebookRun): string {
  if (run.status === "ok") return "ok";
  return `${run.status} in cell ${run.error!.cell}`;
}

/** The page of one executed notebook; `nav` links it to the index and its neighbours. */
export function notebookPage(run: NotebookRun, nav: { prev?: NotebookRun; next?: NotebookRun; generated: Date }): string {
  const nb = run.notebook;
  const title = notebookTitle(nb, run.name);
  const ids = new IdSource();
  const failedCell = run.status !== "ok" ? run.error!.cell : -1;
  const cells = nb.cells.map((c) => renderCell(c, ids, c.cell_type === "code" && c.execution_count === failedCell)).join("\n");
  const link = (r: NotebookRun | undefined, label: string) => (r ? `<a href="${encodeURI(r.name)}.html">${label} ${escapeHtml(r.name)}</a>` : "");
  const params = (nb.metadata["nemotron-lab"] as { parameters?: Record<string, string> } | undefined)?.parameters;
  const banner = run.status === "ok" ? "" :
    `<div class="banner" role="alert">The run ${run.status === "interrupted" ? "was interrupted" : "stopped"} at ` +
    `<a href="#cell-${run.error!.cell}">cell ${run.error!.cell}</a>: ${escapeHtml(`${run.error!.ename}: ${run.error!.evalue}`)}</div>`;
  return head(title, run.plots > 0) +
    `<body><nav class="top"><a href="index.html">&#8962; index</a>${link(nav.prev, "&larr;")}${link(nav.next, "&rarr;")}` +
    `<a href="${encodeURI(run.name)}.ipynb">${escapeHtml(run.name)}.ipynb</a></nav>\n<main>\n` +
    `<p class="run-info">Executed by <code>nemotron-lab run</code> on ${escapeHtml(nav.generated.toISOString().replace("T", " ").slice(0, 19))} UTC: ` +
    `${run.cellsRun} of ${codeCells(nb).length} code cells in ${seconds(run.seconds)}` +
    (params ? `, with ${escapeHtml(Object.entries(params).map(([k, v]) => `${k}=${v}`).join(", "))}` : "") + `</p>\n` +
    `${banner}\n${cells}\n</main>\n<script src="${ASSETS}/report.js"></script>\n</body></html>\n`;
}

export interface IndexOptions {
  title?: string;
  /** Markdown shown above the table of notebooks. */
  intro?: string;
  /** Figures of the run as label / value pairs. */
  summary?: Array<[string, string]>;
  generated: Date;
}

export function indexPage(runs: NotebookRun[], o: IndexOptions): string {
  const title = o.title ?? "nemotron-lab notebooks";
  const rows = runs.map((r) =>
    `<tr><td><a href="${encodeURI(r.name)}.html">${escapeHtml(notebookTitle(r.notebook, r.name))}</a></td>` +
    `<td class="status-${r.status}">${escapeHtml(statusText(r))}</td>` +
    `<td class="num">${r.cellsRun}/${r.codeCells}</td><td class="num">${r.plots}</td><td class="num">${seconds(r.seconds)}</td>` +
    `<td><a href="${encodeURI(r.name)}.ipynb">.ipynb</a></td></tr>`).join("\n");
  const summary = o.summary?.length
    ? `<h2>Figures</h2><dl class="summary">${o.summary.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join("")}</dl>`
    : "";
  return head(title, false) +
    `<body><main>\n<h1>${escapeHtml(title)}</h1>\n${o.intro ? renderMarkdown(o.intro) : ""}\n` +
    `<p class="run-info">Generated ${escapeHtml(o.generated.toISOString().replace("T", " ").slice(0, 19))} UTC.</p>\n` +
    `<table class="runs"><thead><tr><th>notebook</th><th>status</th><th>cells</th><th>plots</th><th>time</th><th></th></tr></thead>\n` +
    `<tbody>${rows}</tbody></table>\n${summary}\n</main></body></html>\n`;
}

export interface ReportFiles {
  index: string;
  pages: string[];
  notebooks: string[];
}

/** Writes the executed notebooks, their pages, the index and the assets into `dir`. */
export function writeReport(dir: string, runs: NotebookRun[], o: Omit<IndexOptions, "generated"> = {}): ReportFiles {
  fs.mkdirSync(dir, { recursive: true });
  writeAssets(dir);
  const generated = new Date();
  const files: ReportFiles = { index: path.join(dir, "index.html"), pages: [], notebooks: [] };
  runs.forEach((run, i) => {
    const ipynb = path.join(dir, `${run.name}.ipynb`), page = path.join(dir, `${run.name}.html`);
    writeNotebook(ipynb, run.notebook);
    fs.writeFileSync(page, notebookPage(run, { prev: runs[i - 1], next: runs[i + 1], generated }));
    files.notebooks.push(ipynb);
    files.pages.push(page);
  });
  fs.writeFileSync(files.index, indexPage(runs, { ...o, generated }));
  return files;
}
