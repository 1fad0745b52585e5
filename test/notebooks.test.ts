/**
 * The tutorial notebooks (notebooks/*.ipynb) run top to bottom with nbclient on the installed
 * kernel, on the bundled tiny models made in a temporary folder, and their outputs show what the
 * text says they show: the layer plan and inventory, FP8 weights with scales, the forward pass
 * recomputed by hand, decode-from-state equal to the full pass, SQNR / KL / sensitivity figures,
 * and plotly figures. The committed notebooks carry no outputs and the nemotron-lab kernelspec.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installSpec, jupyterEnv, PYTHON, pythonHas, ROOT } from "./kernel/helpers";

const NB_DIR = path.join(ROOT, "notebooks");
const NOTEBOOKS = ["01-checkpoint-tour.ipynb", "02-hybrid-forward.ipynb", "03-fp8-quantization.ipynb", "04-inside-the-hybrid.ipynb", "05-generation.ipynb", "06-explorer.ipynb"];
const PLOTLY = "application/vnd.plotly.v1+json";

interface Output { output_type: string; name?: string; text?: string | string[]; data?: Record<string, unknown>; ename?: string; evalue?: string }
interface Cell { cell_type: string; source: string | string[]; outputs?: Output[]; metadata?: Record<string, unknown> }
interface Notebook { cells: Cell[]; metadata: { kernelspec?: { name: string; language: string } } }

const joined = (t: unknown) => (Array.isArray(t) ? t.join("") : typeof t === "string" ? t : "");
const read = (file: string) => JSON.parse(fs.readFileSync(file, "utf8")) as Notebook;

describe("the committed notebooks", () => {
  it("are all listed, use the nemotron-lab kernel and carry no outputs", () => {
    expect(fs.readdirSync(NB_DIR).filter((f) => f.endsWith(".ipynb")).sort()).toEqual(NOTEBOOKS);
    for (const f of NOTEBOOKS) {
      const nb = read(path.join(NB_DIR, f));
      expect(nb.metadata.kernelspec).toMatchObject({ name: "nemotron-lab", language: "typescript" });
      for (const c of nb.cells.filter((x) => x.cell_type === "code")) expect(c.outputs, `${f}: ${joined(c.source).slice(0, 60)}`).toEqual([]);
      // Each says how to switch to the real checkpoint with one line.
      expect(nb.cells.map((c) => joined(c.source)).join("\n")).toMatch(/const MODEL: string = "nvidia\/NVIDIA-Nemotron-Nano-9B-v2"/);
    }
  });
});

const ok = pythonHas(["nbclient", "nbformat"], "the tutorial notebooks (nbclient)");

describe.skipIf(!ok)("the tutorial notebooks run on the kernel", () => {
  let spec: { jupyterPath: string; dir: string };
  beforeAll(() => {
    spec = installSpec();
  });
  afterAll(() => {
    if (spec) fs.rmSync(spec.dir, { recursive: true, force: true });
  });

  /** Executes a notebook; returns its code cells with their outputs flattened to text. */
  function run(name: string): { cells: { source: string; text: string; outputs: Output[] }[]; all: string; plots: Output[] } {
    const dst = path.join(spec.dir, `out-${name}`);
    const env = { ...jupyterEnv(spec.jupyterPath, spec.dir), NEMOTRON_LAB_MODELS_DIR: path.join(spec.dir, "models") };
    const r = spawnSync(PYTHON, [path.join(ROOT, "test", "kernel", "run_notebook.py"), path.join(NB_DIR, name), dst], { env, encoding: "utf8", timeout: 280_000 });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    const nb = read(dst);
    const cells = nb.cells.filter((c) => c.cell_type === "code").map((c) => {
      const outputs = c.outputs ?? [];
      const text = outputs.map((o) => joined(o.text) + joined(o.data?.["text/plain"])).join("\n");
      return { source: joined(c.source), text, outputs };
    });
    const errors = cells.flatMap((c) => c.outputs.filter((o) => o.output_type === "error").map((o) => `${c.source.slice(0, 80)}\n  -> ${o.ename}: ${o.evalue}`));
    expect(errors, errors.join("\n")).toEqual([]);
    const plots = cells.flatMap((c) => c.outputs.filter((o) => o.data?.[PLOTLY] !== undefined));
    for (const p of plots) {
      const fig = p.data![PLOTLY] as { data: unknown[]; layout: Record<string, unknown> };
      expect(fig.data.length).toBeGreaterThan(0);
      expect(joined(p.data!["text/html"])).toContain("Plotly.newPlot");
    }
    return { cells, all: cells.map((c) => c.text).join("\n"), plots };
  }

  const num = (text: string, re: RegExp): number => {
    const m = re.exec(text);
    expect(m, `no match for ${re} in:\n${text.slice(0, 3000)}`).not.toBeNull();
    return Number(m![1]);
  };

  it("01 checkpoint tour", () => {
    const { cells, all, plots } = run(NOTEBOOKS[0]);
    // The 9B's layer plan, 27 / 4 / 25.
    expect(all).toContain("pattern M-M-M-MM-M-M-M*-M-M-M*-M-M-M-M*-M-M-M-M*-M-MM-M-M-M-M-M-");
    expect(num(all, /M mamba\s+(\d+) layers/)).toBe(27);
    expect(num(all, /\* attention\s+(\d+) layers/)).toBe(4);
    expect(num(all, /- mlp\s+(\d+) layers/)).toBe(25);
    // The inventory table: one row per block, every kind present.
    const inv = cells.find((c) => c.source.trim() === "ckpt")!;
    const html = joined(inv.outputs[0].data!["text/html"]);
    expect(html).toContain("<table");
    for (const kind of ["embedding", "mamba", "attention", "mlp", "head"]) expect(inv.text).toMatch(new RegExp(`backbone\\.layers\\.\\d+\\s+${kind}|\\s${kind}\\s`));
    expect(inv.text.match(/backbone\.layers\.\d+ /g)!.length).toBe(56);
    // in_proj split adds up; the stats and percentiles are there.
    expect(all).toMatch(/z \+ xBC \+ dt = (\d+) rows = in_proj's \1/);
    expect(all).toMatch(/p99\.9\s+-?\d/);
    // FP8 weights carry scales; decode x scale equals the tensor's dequantised row.
    expect(all).toContain("fp8-modelopt");
    const fp8 = cells.find((c) => c.source.includes("decode x scale"))!.text;
    const line = (label: string) => fp8.split("\n").find((l) => l.startsWith(label))!.slice(label.length).trim();
    expect(line("decode x scale")).toBe(line("q.row(0)"));
    const sqnr = num(fp8, /SQNR ([\d.]+) dB/);
    expect(sqnr).toBeGreaterThan(20);
    expect(sqnr).toBeLessThan(45);
    expect(plots.length).toBeGreaterThanOrEqual(2);
  }, 300_000);

  it("02 hybrid forward", () => {
    const { all, plots } = run(NOTEBOOKS[1]);
    expect(num(all, /embeddings: h\[t\] = E\[ids\[t\]\], max \|diff\| ([\d.e+-]+)/)).toBe(0);
    expect(num(all, /h\[i\] = h\[i-1\] \+ mixer_i: max relative diff ([\d.e+-]+)/)).toBeLessThan(1e-5);
    expect(num(all, /mixer input = RMSNorm\(h\[i-1\]\) \* norm\.weight: ([\d.e+-]+)/)).toBeLessThan(1e-4);
    // Each block kind recomputed by hand from its weights matches the kernels.
    for (const re of [/by hand vs kernel: max \|diff\| ([\d.e+-]+)/, /attention, .*by hand vs kernel max \|diff\| ([\d.e+-]+)/,
      /norm_f hook vs by hand: max \|diff\| ([\d.e+-]+)/, /lm_head\(norm_f\(h\)\) vs the model's logits: max \|diff\| ([\d.e+-]+)/]) {
      expect(num(all, re)).toBeLessThan(1e-4);
    }
    expect(all).toMatch(/in_proj -> z \d+ \| xBC \d+ \| dt \d+/);
    // Decoding from the state agrees with the full pass.
    expect(num(all, /token by token from the state vs the full pass: max \|diff\| ([\d.e+-]+)/)).toBeLessThan(1e-4);
    expect(num(all, /then the other \d+ in one piece: max \|diff\| ([\d.e+-]+)/)).toBeLessThan(1e-4);
    // State vs KV growth: the all-attention model needs more at every context, ~L/attention layers at long ones.
    const ratios = [...all.matchAll(/^\s*(\d+)\s+[\d.]+ [MG]iB\s+[\d.]+ [MG]iB\s+([\d.]+)$/gm)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(ratios.map((r) => r[0])).toEqual([1024, 4096, 16384, 32768, 131072]);
    expect(ratios.every((r, i) => r[1] > 1 && (i === 0 || r[1] >= ratios[i - 1][1]))).toBe(true);
    expect(ratios[ratios.length - 1][1]).toBeGreaterThan(13);
    expect(ratios[ratios.length - 1][1]).toBeLessThanOrEqual(14);
    // Streaming generation with timings.
    expect(num(all, /(\d+) generated \(length\)/)).toBe(40);
    expect(num(all, /decode (\d+) tok\/s/)).toBeGreaterThan(0);
    expect(plots.length).toBeGreaterThanOrEqual(3);
  }, 300_000);

  it("03 FP8 quantization", () => {
    const { cells, all, plots } = run(NOTEBOOKS[2]);
    expect(all).toMatch(/e4m3: 126 positive finite values from 0\.001953125 to 448/);
    expect(all).toMatch(/e5m2: \d+ positive finite values from [\d.e-]+ to 57344/);
    expect(all).toMatch(/^\s*1000000\s+448\s+NaN\s+57344\s+Infinity$/m);   // saturation vs overflow
    expect(num(all, /^nvidia-fp8\s+(\d+) tensors/m)).toBe(27 * 2 + 25 * 2);   // Mamba in/out_proj + MLP up/down
    // The error report and its summary: E4M3 per-tensor on Gaussian-like weights is ~31 dB.
    const report = cells.find((c) => c.source.includes("lab.quantizeModel("))!;
    expect(joined(report.outputs.at(-1)!.data!["text/html"])).toContain("<table");
    const min = num(all, /SQNR min ([\d.]+) dB, mean/), mean = num(all, /SQNR min [\d.]+ dB, mean ([\d.]+) dB/);
    expect(min).toBeGreaterThan(25);
    expect(mean).toBeGreaterThanOrEqual(min);
    expect(mean).toBeLessThan(40);
    expect(all).toMatch(/now runs on 104 FP8 weights, e\.g\. \S+: F8_E4M3/);
    // Outputs vs the original.
    const kl = num(all, /KL mean ([\d.e+-]+) nats/);
    expect(kl).toBeGreaterThan(0);
    expect(kl).toBeLessThan(0.1);
    expect(num(all, /top-1 agreement ([\d.]+)% of \d+ positions/)).toBeGreaterThan(50);
    expect(all).toContain("after revert: 0 replaced weights, max |logit - original| = 0");
    // The sensitivity ranking: 56 layers + lm_head, ranked 1..n by KL, one progress bar.
    const sens = cells.find((c) => c.source.includes("lab.sensitivitySweep("))!;
    expect(num(sens.text, /sensitivity: (\d+) groups/)).toBe(57);
    const kls = [...sens.text.matchAll(/^\s*(\d+)\s+(backbone\.layers\.\d+|lm_head)\s+-?\d+\s+\w+\s+\d+\s+([\d.e+-]+)/gm)];
    expect(kls.map((m) => Number(m[1]))).toEqual(Array.from({ length: 57 }, (_, i) => i + 1));
    expect(kls.every((m, i) => i === 0 || Number(m[3]) <= Number(kls[i - 1][3]))).toBe(true);
    expect(sens.outputs.filter((o) => o.output_type === "display_data").length).toBeLessThanOrEqual(2);
    // Export for vLLM.
    expect(all).toContain("reopened as fp8-compressed-tensors");
    expect(all).toContain("quant_method: 'compressed-tensors'");
    expect(plots.length).toBeGreaterThanOrEqual(5);
  }, 300_000);

  it("04 inside the hybrid", () => {
    const { cells, all, plots } = run(NOTEBOOKS[3]);
    expect(num(all, /(\d+) entries recorded/)).toBeGreaterThan(56);
    expect(all).toMatch(/mixer\.ssm_state\s+\[\d+,\d+,\d+,\d+\]/);
    expect(all.match(/ablate layer \d+ \((mamba|attention)\)/g)!.length).toBe(4);
    expect(all).toContain("plain forward unchanged after the hooks: true");
    // Direct logit attribution: the shares add up to the logit difference.
    const dla = /shares sum to (-?[\d.]+), the logit difference is (-?[\d.]+)/.exec(all)!;
    expect(Math.abs(Number(dla[1]) - Number(dla[2]))).toBeLessThan(1e-3);
    expect(all).toMatch(/after the last block: 1\.00/);
    expect(all).toContain("every hook before layer 28 exact: true");
    expect(all).toContain("model reverted: true");
    const kl = /KL mean: bf16 SSM state ([\d.e+-]+), FP8 KV cache ([\d.e+-]+)/.exec(all)!;
    expect(Number(kl[2])).toBeGreaterThan(Number(kl[1]));
    expect(all).toMatch(/f32\s+fp8_e4m3\s+[\d.e+-]+/);
    const explorer = cells.find((c) => c.source.includes("lab.exploreActivations("))!;
    expect(joined(explorer.outputs.find((o) => o.data?.["application/vnd.jupyter.widget-view+json"])!.data!["text/html"])).toContain("logit lens at position");
    // effective attention, SSM state norms, attention pattern, residual norms, logit lens, attribution, patching, 2 × quantization error
    expect(plots.length).toBe(9);
  }, 300_000);

  it("05 generation", () => {
    const { cells, all } = run("05-generation.ipynb");
    // The chat template: /no_think writes an empty think block, /think leaves it open.
    expect(all).toContain("/no_think closes the think block itself: true");
    expect(all).toMatch(/Assistant\n<think>\n/);
    // Streaming: one display updated in place (update_display_data), ending with the result's text.
    const streamCell = cells.find((c) => c.source.includes("displayId: true"))!;
    const m = /(\d+) tokens \(length\), live display updated (\d+) times; final text == result.text: true/.exec(streamCell.text);
    expect(m, streamCell.text).not.toBeNull();
    expect(Number(m![1])).toBe(48);
    expect(Number(m![2])).toBeGreaterThan(1);
    expect(streamCell.outputs.filter((o) => o.output_type === "display_data")).toHaveLength(1);
    expect(num(all, /decode (\d+) tok\/s/)).toBeGreaterThan(0);
    // Sampling side by side: five settings in one table; greedy is deterministic.
    expect(all).toContain("greedy twice, same tokens: true");
    const sampling = cells.find((c) => c.source.includes("const settings"))!;
    expect(joined(sampling.outputs.at(-1)!.data!["text/html"])).toContain("<table");
    for (const label of ["greedy", "T 0.7, top-p 0.9", "T 1.0, top-k 20", "T 1.5, min-p 0.1"]) expect(sampling.text).toContain(label);
    // Original vs FP8: a small positive KL, and the revert leaves no FP8 weight behind.
    const kl = num(all, /KL mean over all prompts ([\d.e+-]+) nats/);
    expect(kl).toBeGreaterThan(0);
    expect(kl).toBeLessThan(0.1);
    expect(all).toMatch(/after revert 0 replaced weights/);
    // The interrupted generation stops early, and the kernel keeps its state.
    expect(all).toMatch(/stopped after \d+ of up to \d+ tokens: finishReason aborted/);
    expect(all).toContain("greedy answer unchanged after the interrupted run: true");
  }, 300_000);

  it("06 explorer (headless: widgets fall back to static HTML)", () => {
    const { cells, all } = run("06-explorer.ipynb");
    const VIEW = "application/vnd.jupyter.widget-view+json";
    const displays = cells.flatMap((c) => c.outputs.filter((o) => o.data?.[VIEW] !== undefined));
    // Every widget output carries the view (for JupyterLab) and a static rendering (for this run).
    expect(displays.length).toBeGreaterThanOrEqual(3);
    for (const d of displays) expect(joined(d.data!["text/html"])).toContain('class="nl-widget');
    const box = cells.find((c) => c.source.includes("new W.HBox"))!;
    expect(joined(box.outputs.find((o) => o.data?.[VIEW])!.data!["text/html"])).toContain('type="range"');
    // interact's first run is in its static HTML; moving the slider re-ran it.
    const hist = cells.find((c) => c.source.includes("lab.interact("))!;
    expect(joined(hist.outputs.find((o) => o.data?.[VIEW])!.data!["text/html"])).toContain("Plotly.newPlot");
    expect(all).toContain("layer 0 -> 5");
    expect(num(all, /runs so far: (\d+)/)).toBe(2);
    // The explorer: stats, metrics and both figures in its static HTML; KL > 0 after quantize, 0 after revert.
    const ex = joined(cells.find((c) => c.source.includes("lab.explore("))!.outputs.find((o) => o.data?.[VIEW])!.data!["text/html"]);
    expect(ex).toContain("SQNR dB");
    expect(ex.match(/Plotly\.newPlot/g)!.length).toBe(2);
    expect(num(all, /KL mean ([\d.e+-]+) nats, top-1/)).toBeGreaterThan(0);
    expect(all).toContain("after revert: KL mean 0");
  }, 300_000);
});
