/**
 * A table that shows itself: a sortable HTML table in notebooks (click a header to sort;
 * a few lines of inline JS, no library) and a text table in terminals. Cells carry a
 * display string and, for numbers, the value sorted on.
 */
import { escapeHtml, textTable } from "../util/format";

export type Cell = string | number;

export interface Column {
  header: string;
  /** How a number is shown (default: 4 significant digits). */
  format?: (v: number) => string;
  /** Tooltip on the header. */
  title?: string;
}

let tableId = 0;

export class SortableTable {
  constructor(readonly columns: Column[], readonly rows: Cell[][], readonly caption?: string) {}

  private show(c: number, v: Cell): string {
    if (typeof v === "string") return v;
    return (this.columns[c].format ?? defaultFormat)(v);
  }

  toString(): string {
    const body = textTable(this.columns.map((c) => c.header), this.rows.map((r) => r.map((v, c) => this.show(c, v))));
    return this.caption ? `${this.caption}\n${body}` : body;
  }

  toHtml(): string {
    const id = `nl-table-${process.pid}-${++tableId}`;
    const th = this.columns.map((c, i) =>
      `<th style="cursor:pointer;text-align:left;padding:1px 4px" title="${escapeHtml(c.title ?? "click to sort")}" onclick="nlSort_${id.replace(/-/g, "_")}(${i})">${escapeHtml(c.header)} &#x21C5;</th>`).join("");
    const body = this.rows.map((r) => "<tr>" + r.map((v, c) => {
      const num = typeof v === "number";
      const key = num ? (Number.isNaN(v) ? "" : String(v)) : escapeHtml(v);
      // Long names (checkpoint paths) may break after a dot rather than widen the table.
      const text = escapeHtml(this.show(c, v));
      return `<td data-v="${key}" style="text-align:${num ? "right" : "left"};font-family:monospace;padding:1px 4px">${num ? text : text.replace(/\./g, ".<wbr>")}</td>`;
    }).join("") + "</tr>").join("");
    const fn = `nlSort_${id.replace(/-/g, "_")}`;
    // Sorts numerically when both keys parse as numbers (Infinity included), else as text; a second click reverses.
    const script = `<script>function ${fn}(c){var t=document.getElementById("${id}"),b=t.tBodies[0],rs=Array.from(b.rows),` +
      `d=t.getAttribute("data-col")==String(c)&&t.getAttribute("data-dir")!="desc"?-1:1;` +
      `rs.sort(function(x,y){var a=x.cells[c].getAttribute("data-v"),z=y.cells[c].getAttribute("data-v"),p=parseFloat(a),q=parseFloat(z);` +
      `if(!isNaN(p)&&!isNaN(q))return (p-q)*d||0;return a<z?-d:a>z?d:0;});rs.forEach(function(r){b.appendChild(r)});` +
      `t.setAttribute("data-col",String(c));t.setAttribute("data-dir",d<0?"desc":"asc");}</script>`;
    const cap = this.caption ? `<caption style="text-align:left"><b>${escapeHtml(this.caption)}</b></caption>` : "";
    // Fits the output area: compact type, and a horizontal scrollbar of its own when still wider.
    return `<div class="nemotron-lab-table" style="max-width:100%;overflow-x:auto">` +
      `<table id="${id}" style="border-collapse:collapse;font-size:12px">${cap}<thead><tr>${th}</tr></thead><tbody>${body}</tbody></table></div>${script}`;
  }

  [Symbol.for("Jupyter.display")](): Record<string, string> {
    return { "text/html": this.toHtml(), "text/plain": this.toString() };
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

export function defaultFormat(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return "0";
  // Counts (layers, tokens, scales) are shown exactly: 16384 must not read as 16380.
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return String(v);
  const a = Math.abs(v);
  return a >= 1e-3 && a < 1e6 ? Number(v.toPrecision(4)).toString() : v.toExponential(3);
}

export const percentFormat = (v: number): string => (v === 0 ? "0%" : `${(v * 100).toPrecision(3)}%`);
export const fixed = (digits: number) => (v: number): string => (Number.isFinite(v) ? v.toFixed(digits) : String(v));
