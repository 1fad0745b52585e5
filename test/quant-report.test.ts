/**
 * The quantization error report's table of a real quantization (a tiny NemotronH): by default the
 * columns that fit a notebook (quality per tensor), every column with table("all"), the same rows
 * and values in both, the caption pointing at the rest; text and HTML agree; the input-scale column
 * appears only where activations had static scales.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { makeTiny, NemotronH, quantizeModel, type QuantReport } from "../src/index";

let report: QuantReport;

beforeAll(async () => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "nl-quant-report-")), "tiny");
  await makeTiny(dir, { dtype: "f32", pattern: "M-M*-M", seed: 5 });
  const model = NemotronH.load(dir);
  report = quantizeModel(model, { layers: "all-linear", format: "e4m3", granularity: "channel" }).report;
});

const headers = (html: string) => [...html.matchAll(/<th [^>]*>([^<]*) &#x21C5;<\/th>/g)].map((m) => m[1].replace(/&amp;/g, "&"));

describe("QuantReport.table", () => {
  it("shows the quality columns by default and every column with \"all\", the same rows in both", () => {
    const summary = report.table(), all = report.table("all");
    expect(summary.columns.map((c) => c.header)).toEqual(["tensor", "layer", "kind", "shape", "format", "SQNR dB", "rel L2", "max |err|", "cosine", "clipped", "flushed"]);
    expect(all.columns.map((c) => c.header)).toEqual(["tensor", "layer", "kind", "shape", "format", "SQNR dB", "rel L2", "max |err|", "mean |err|", "cosine",
      "clipped", "flushed", "subnormal", "scales", "scale min", "scale max", "ms"]);
    expect(summary.rows).toHaveLength(report.rows.length);
    expect(report.rows.length).toBeGreaterThan(3);
    // Every summary cell is the "all" cell of the same column.
    const at = (t: typeof all, header: string) => t.rows.map((r) => r[t.columns.findIndex((c) => c.header === header)]);
    for (const c of summary.columns) expect(at(summary, c.header), c.header).toEqual(at(all, c.header));
    expect(at(all, "scales")).toEqual(report.rows.map((r) => r.scales));
    expect(new Set(at(all, "scales")).size).toBeGreaterThan(1);   // channel scales: one per row of each weight
    expect(summary.caption).toMatch(/; 6 more columns \(scales, timings\): \.table\("all"\)$/);
    expect(all.caption).not.toMatch(/more columns/);
  });

  it("the notebook display and toString use the summary; toHtml/toString(\"all\") carry every column", () => {
    const display = (report as unknown as Record<symbol, () => Record<string, string>>)[Symbol.for("Jupyter.display")]();
    expect(headers(display["text/html"])).toEqual(report.table().columns.map((c) => c.header));
    expect(headers(report.toHtml("all"))).toEqual(report.table("all").columns.map((c) => c.header));
    expect(display["text/plain"]).toBe(report.toString());
    const header = (text: string) => text.split("\n")[1];
    expect(header(report.toString())).not.toMatch(/scale min/);
    expect(header(report.toString("all"))).toMatch(/scale min.*scale max.*ms/);
  });

  it("has an input-scale column only when some tensor has a static input scale", () => {
    expect(report.table("all").columns.map((c) => c.header)).not.toContain("input scale");
    const withInput = new (report.constructor as typeof QuantReport)(report.rows.map((r, i) => ({ ...r, inputScale: i === 0 ? 0.5 : undefined })));
    const t = withInput.table("all");
    const col = t.columns.findIndex((c) => c.header === "input scale");
    expect(col).toBeGreaterThan(0);
    expect(t.rows.map((r) => r[col])).toEqual([0.5, ...Array(report.rows.length - 1).fill(NaN)]);
    expect(withInput.table().caption).toMatch(/7 more columns/);
  });
});
