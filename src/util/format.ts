/** Human-readable numbers for tables and messages. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i === 0 ? `${n} B` : `${n.toFixed(n >= 100 ? 0 : n >= 10 ? 1 : 2)} ${units[i]}`;
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} K`;
  return String(n);
}

/** A plain text table with right-aligned numeric columns. */
export function textTable(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? "").length)));
  const numeric = header.map((_, c) => rows.length > 0 && rows.every((r) => typeof r[c] === "number" || /^[-\d.,e+%]+( [A-Za-z]+)?$/.test(String(r[c]))));
  const line = (r: string[]) => r.map((x, c) => (numeric[c] ? x.padStart(widths[c]) : x.padEnd(widths[c]))).join("  ").trimEnd();
  return [line(cells[0]), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}

const HTML_ESCAPES: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text made safe for HTML element content and quoted attributes (both quote kinds). */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** An HTML table (numbers right-aligned). */
export function htmlTable(header: string[], rows: (string | number)[][], caption?: string): string {
  const th = header.map((h) => `<th>${escapeHtml(h)}</th>`).join("");
  const body = rows.map((r) => "<tr>" + r.map((x) => `<td style="text-align:${typeof x === "number" ? "right" : "left"}">${escapeHtml(String(x))}</td>`).join("") + "</tr>").join("");
  return `<table>${caption ? `<caption style="text-align:left">${escapeHtml(caption)}</caption>` : ""}<thead><tr>${th}</tr></thead><tbody>${body}</tbody></table>`;
}
