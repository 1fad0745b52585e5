/**
 * Notebook cells and outputs as static HTML, the way JupyterLab shows them: markdown through
 * markdown-it (math through KaTeX, rendered here, no script needed), code highlighted by
 * highlight.js, ANSI colours of streams and tracebacks through anser, and for rich outputs the
 * richest mime type we can show offline. Plotly figures become a <div> plus their JSON; the page's
 * script draws them with the plotly.js written once beside the pages (see report.ts).
 */
import Anser from "anser";
import hljs from "highlight.js/lib/core";
import typescript from "highlight.js/lib/languages/typescript";
import MarkdownIt from "markdown-it";
import { escapeHtml } from "../util/format";
import { joinSource, PLOTLY_MIME, type Cell, type MimeBundle, type Output } from "./nbformat";

hljs.registerLanguage("typescript", typescript);

// eslint-disable-next-line @typescript-eslint/no-var-requires
const katexPlugin = (require("@vscode/markdown-it-katex") as { default: (md: MarkdownIt.MarkdownIt, options?: { throwOnError?: boolean }) => void }).default;

const md = new MarkdownIt({ html: true, linkify: false, typographer: false })
  .use(katexPlugin, { throwOnError: false });

// Links between tutorials point at their pages, not at the .ipynb files.
const defaultLink = md.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  const href = String(tokens[idx].attrGet("href") ?? "");
  if (href && !/^[a-z]+:/i.test(href)) tokens[idx].attrSet("href", href.replace(/\.ipynb(#|$)/, ".html$1"));
  return defaultLink(tokens, idx, options, env, self);
};

export function renderMarkdown(text: string): string {
  return md.render(text);
}

export function highlightTypeScript(code: string): string {
  return hljs.highlight(code, { language: "typescript", ignoreIllegals: true }).value;
}

/** A terminal's view of text: "\r" returns to the line start, so only what was written last shows. */
function applyCarriageReturns(text: string): string {
  return text.split("\n").map((line) => {
    const parts = line.replace(/\r+$/, "").split("\r");
    return parts[parts.length - 1];
  }).join("\n");
}

/** Escaped text with its ANSI colours as classes (styled in report.css). */
export function ansiToHtml(text: string): string {
  return Anser.ansiToHtml(Anser.escapeForHtml(applyCarriageReturns(text)), { use_classes: true });
}

const text = (v: unknown) => (typeof v === "string" ? v : Array.isArray(v) ? v.join("") : JSON.stringify(v, null, 2));

/** Safe inside <script type="application/json">. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/** The mime types we render, richest first (what JupyterLab would pick, less what needs a kernel). */
const MIME_ORDER: Array<[string, (v: unknown, ids: IdSource) => string]> = [
  [PLOTLY_MIME, (v, ids) => {
    const id = ids.next("plot");
    const fig = v as { layout?: { height?: number } };
    const height = typeof fig.layout?.height === "number" ? fig.layout.height : 450;
    return `<div class="nl-plot" id="${id}" style="min-height:${height}px"></div>` +
      `<script type="application/json" class="nl-plot-data" data-for="${id}">${scriptJson(v)}</script>`;
  }],
  ["text/html", (v) => `<div class="html-output">${text(v)}</div>`],
  ["image/svg+xml", (v) => `<div class="image-output">${text(v)}</div>`],
  ["image/png", (v) => `<div class="image-output"><img alt="image output" src="data:image/png;base64,${text(v).replace(/\s/g, "")}"></div>`],
  ["image/jpeg", (v) => `<div class="image-output"><img alt="image output" src="data:image/jpeg;base64,${text(v).replace(/\s/g, "")}"></div>`],
  ["image/gif", (v) => `<div class="image-output"><img alt="image output" src="data:image/gif;base64,${text(v).replace(/\s/g, "")}"></div>`],
  ["text/markdown", (v) => `<div class="markdown-output">${renderMarkdown(text(v))}</div>`],
  ["text/latex", (v) => `<div class="markdown-output">${renderMarkdown(`$$\n${text(v).replace(/^\$+|\$+$/g, "")}\n$$`)}</div>`],
  ["application/json", (v) => `<pre class="json-output">${escapeHtml(JSON.stringify(v, null, 2))}</pre>`],
  ["text/plain", (v) => `<pre class="text-output">${ansiToHtml(text(v))}</pre>`],
];

/** Unique element ids within one page. */
export class IdSource {
  private n = 0;
  next(prefix: string): string {
    return `${prefix}-${++this.n}`;
  }
}

export function renderBundle(data: MimeBundle, ids: IdSource): string {
  for (const [mime, render] of MIME_ORDER) if (data[mime] !== undefined) return render(data[mime], ids);
  return `<pre class="text-output">(no renderable output: ${escapeHtml(Object.keys(data).join(", "))})</pre>`;
}

export function renderOutput(o: Output, ids: IdSource): string {
  switch (o.output_type) {
    case "stream":
      return `<pre class="stream ${o.name}">${ansiToHtml(text(o.text))}</pre>`;
    case "error": {
      const tb = o.traceback.length ? o.traceback.join("\n") : `${o.ename}: ${o.evalue}`;
      return `<pre class="error-output">${ansiToHtml(tb)}</pre>`;
    }
    default:
      return renderBundle(o.data, ids);
  }
}

/** One cell. `failed` marks the code cell where the run stopped. */
export function renderCell(cell: Cell, ids: IdSource, failed = false): string {
  const source = joinSource(cell.source);
  if (cell.cell_type !== "code") {
    return cell.cell_type === "markdown" ? `<div class="cell markdown">${renderMarkdown(source)}</div>` : `<div class="cell raw"><pre>${escapeHtml(source)}</pre></div>`;
  }
  const n = cell.execution_count;
  const exec = cell.metadata.execution as Record<string, string> | undefined;
  const took = exec ? (Date.parse(exec["shell.execute_reply"]) - Date.parse(exec["iopub.execute_input"])) / 1000 : NaN;
  const prompt = `In [${n ?? " "}]:${Number.isFinite(took) ? `<span class="time">${took.toFixed(2)} s</span>` : ""}`;
  const outputs = cell.outputs.map((o) => `<div class="output">${renderOutput(o, ids)}</div>`).join("\n");
  const cls = ["cell", "code", failed ? "failed" : "", n === null ? "not-run" : ""].filter(Boolean).join(" ");
  return `<div class="${cls}"${n !== null ? ` id="cell-${n}"` : ""}>` +
    `<div class="input"><div class="prompt">${prompt}</div><pre class="source hljs"><code>${highlightTypeScript(source)}</code></pre></div>` +
    (outputs ? `<div class="outputs">${outputs}</div>` : "") +
    `</div>`;
}
