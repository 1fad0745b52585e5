// nemotron-lab quantize: the error table, the HTML report with plots, the export, and bad input.
import { beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Checkpoint, makeTiny, Figure, valueHistogram, quantizeTensor } from "../src/index";

const main = path.join(__dirname, "..", "dist", "cli", "main.js");
let root: string, tiny: string;
const cli = (...args: string[]) => spawnSync(process.execPath, [main, "quantize", ...args], { encoding: "utf8", env: { ...process.env, NEMOTRON_LAB_NO_PROGRESS: "1" } });

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "nl-quant-cli-"));
  tiny = path.join(root, "tiny");
  await makeTiny(tiny, { seed: 5 });
});

describe("nemotron-lab quantize", () => {
  it("prints the error table and writes a report with the table and plots", () => {
    const report = path.join(root, "r.html");
    const r = cli(tiny, "--layers", "mamba,mlp", "--granularity", "block", "--block-size", "8", "--scale", "percentile:99.9", "--report", report);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/weights dense/);
    expect(r.stdout).toMatch(/backbone\.layers\.0\.mixer\.in_proj\.weight .* block 8x8 +percentile:99.9/);
    expect(r.stdout.match(/mixer\.(in|out|up|down)_proj\.weight/g)).toHaveLength(10);
    const html = fs.readFileSync(report, "utf8");
    expect(html).toMatch(/window\.Plotly/);
    expect(html.match(/Plotly\.newPlot/g)!.length).toBeGreaterThanOrEqual(5);
    expect(html).toMatch(/nlSort_/);
    expect(html).not.toMatch(/<script[^>]+src=/);
  });

  it("exports a checkpoint that reloads as compressed-tensors", () => {
    const out = path.join(root, "ct");
    const r = cli(tiny, "--layers", "all-linear", "--granularity", "channel", "--out", out, "--export", "compressed-tensors");
    expect(r.status, r.stderr).toBe(0);
    expect(Checkpoint.open(out).weightFormat).toBe("fp8-compressed-tensors");
  });

  it("exports ModelOpt FP8 with input scales calibrated on prompts (text and ids) through the live model", () => {
    const out = path.join(root, "mo");
    const r = cli(tiny, "--layers", "nvidia-fp8", "--out", out, "--export", "modelopt", "--calibrate", "The cat sat on the mat.", "--calibrate", "1,5,9,200");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/input_scale .* used for linears without a calibrated scale/);
    const ck = Checkpoint.open(out);
    expect(ck.weightFormat).toBe("fp8-modelopt");
    const s = ck.tensor("backbone.layers.1.mixer.up_proj.input_scale").values();
    const s2 = ck.tensor("backbone.layers.0.mixer.in_proj.input_scale").values();
    expect(s[0]).toBeGreaterThan(0);
    expect(s[0]).not.toBe(s2[0]);  // one calibrated scale per linear
    expect(cli(tiny, "--calibrate", "1,2").stderr).toMatch(/--calibrate .* needs --out and --export/);
  });

  it("explains bad input", () => {
    let r = cli(tiny, "--layers", "moe");
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/'moe' matches no tensor.*mamba \(layers/);
    r = cli(tiny, "--layers", "*.dt_bias");
    expect(r.stderr).toMatch(/high precision.*--force/);
    r = cli(tiny, "--granularity", "block", "--block-size", "48");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/backbone\.layers\.\d+\.mixer\.\w+_proj\.weight: block size 48x48 does not divide.*--pad/);
    expect(r.stderr).not.toMatch(/    at /);
    r = cli(tiny, "--scale", "median");
    expect(r.stderr).toMatch(/--scale/);
  });
});

describe("figures", () => {
  it("render as plotly mime bundles with a small HTML fallback (no plotly.js inlined)", () => {
    const t = Checkpoint.open(tiny).tensor("backbone.layers.0.mixer.in_proj.weight");
    const f = valueHistogram(t, quantizeTensor(t));
    expect(f).toBeInstanceOf(Figure);
    const b = (f as unknown as Record<symbol, () => Record<string, unknown>>)[Symbol.for("Jupyter.display")]();
    const j = b["application/vnd.plotly.v1+json"] as { data: { type: string }[]; layout: { shapes: unknown[] } };
    expect(j.data.map((d) => d.type)).toEqual(["bar", "scatter"]);
    expect(j.layout.shapes).toHaveLength(2);
    expect(String(b["text/html"]).length).toBeLessThan(1e5);
    const file = path.join(root, "f.html");
    f.writeHtml(file);
    expect(fs.readFileSync(file, "utf8")).toMatch(/<!DOCTYPE html>/);
  });
});
