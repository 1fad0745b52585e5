/**
 * The tour (`npm start`): every tutorial notebook runs on the bundled model, the summary names what
 * ran and the bundled model's FP8 figures, and the report works in a real browser (Debian's
 * chromium through playwright-core): every page loads from file:// with no console errors and no
 * network, every plotly figure draws an SVG with its data traces, tables render, and sortable
 * tables sort. One screenshot per page is kept under out/screenshots/ as a build artefact.
 * One run of the tour and one browser serve every check.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { pathToFileURL } from "url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { CLI_MAIN, ROOT, tempDir } from "./helpers";
import { collectPageErrors, hasBrowser, launchBrowser } from "./helpers/browser";
import { hasPythonModule, noVenvReason, runPython, warnSkip } from "./helpers/python";

const OUT = path.join(ROOT, "out");
const NOTEBOOKS = fs.readdirSync(path.join(ROOT, "notebooks")).filter((f) => f.endsWith(".ipynb")).sort().map((f) => f.replace(/\.ipynb$/, ""));

let tour: { code: number | null; stdout: string; stderr: string };

beforeAll(() => {
  fs.rmSync(OUT, { recursive: true, force: true });
  const r = spawnSync(process.execPath, [CLI_MAIN, "start"], {
    cwd: ROOT, encoding: "utf8", timeout: 280_000,
    env: { ...process.env, NEMOTRON_LAB_MODELS_DIR: tempDir("nl-tour-models-"), NEMOTRON_LAB_NO_PROGRESS: "1" },
  });
  tour = { code: r.status, stdout: r.stdout, stderr: r.stderr };
}, 300_000);

describe("npm start: the tour", () => {
  it("runs every tutorial notebook top to bottom and prints the summary", () => {
    expect(tour.code, `${tour.stdout}\n${tour.stderr}`).toBe(0);
    const s = tour.stdout;
    for (const nb of NOTEBOOKS) expect(s).toMatch(new RegExp(`${nb} \\[\\s*\\d+/\\d+\\] ok`));   // progress per cell
    const m = /notebooks\s+(\d+) of (\d+) ran top to bottom: (\d+) cells, (\d+) plots, [\d.]+ s in all/.exec(s);
    expect(m, s).not.toBeNull();
    expect(Number(m![1])).toBe(NOTEBOOKS.length);
    expect(Number(m![2])).toBe(NOTEBOOKS.length);
    expect(Number(m![4])).toBeGreaterThanOrEqual(NOTEBOOKS.length);
    // The FP8 figures of the bundled model: perplexity original -> FP8, and a small positive KL.
    const fp8 = /FP8\s+\S+, (\d+) weights in FP8 E4M3 \(nvidia-fp8 layout\): perplexity ([\d.]+) -> ([\d.]+) \(\d+ tokens of [^)]+\), KL mean ([\d.e+-]+) nats/.exec(s);
    expect(fp8, s).not.toBeNull();
    expect(Number(fp8![1])).toBeGreaterThan(0);
    expect(Math.abs(Math.log(Number(fp8![3]) / Number(fp8![2])))).toBeLessThan(0.1);
    expect(Number(fp8![4])).toBeGreaterThan(0);
    expect(Number(fp8![4])).toBeLessThan(0.1);
    expect(Number(/decode\s+(\d+) tok\/s/.exec(s)?.[1])).toBeGreaterThan(0);
    expect(s).toContain(`report     ${path.join("out", "index.html")}`);
    for (const nb of NOTEBOOKS) {
      expect(fs.existsSync(path.join(OUT, `${nb}.html`))).toBe(true);
      expect(fs.existsSync(path.join(OUT, `${nb}.ipynb`))).toBe(true);
    }
  });
});

const venv = hasPythonModule("nbformat");
if (!venv) warnSkip("nbformat validation of the tour's notebooks", noVenvReason("nbformat"));

describe.skipIf(!venv)("npm start: the executed notebooks", () => {
  it("are nbformat 4.5 and valid against the schema", () => {
    const r = runPython(
      "import json, sys, nbformat\n" +
      "out = []\n" +
      "for f in json.load(sys.stdin):\n" +
      "    nb = nbformat.read(f, as_version=nbformat.NO_CONVERT); nbformat.validate(nb); out.append([nb.nbformat, nb.nbformat_minor])\n" +
      "print(json.dumps(out))",
      NOTEBOOKS.map((n) => path.join(OUT, `${n}.ipynb`)));
    expect(r).toEqual(NOTEBOOKS.map(() => [4, 5]));
  });
});

const browserOk = hasBrowser();

describe.skipIf(!browserOk)("the report in a real browser", () => {
  let browser: Browser;
  beforeAll(async () => {
    fs.mkdirSync(path.join(OUT, "screenshots"), { recursive: true });
    browser = await launchBrowser();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
  });

  async function open(name: string) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    // Generous: on a busy 2-core machine parsing plotly.js (4.8 MB) alone can take many seconds.
    page.setDefaultTimeout(150_000);
    const errors = collectPageErrors(page);
    const external: string[] = [];
    page.on("request", (r) => { if (!/^(file|data|blob):/.test(r.url())) external.push(r.url()); });
    page.on("requestfailed", (r) => errors.push(`failed to load ${r.url()}: ${r.failure()?.errorText}`));
    await page.goto(pathToFileURL(path.join(OUT, `${name}.html`)).href, { waitUntil: "load" });
    return { page, errors, external, close: () => context.close() };
  }

  it("the index loads offline and links every notebook page", async () => {
    const { page, errors, external, close } = await open("index");
    const links = await page.locator("table.runs a[href$='.html']").evaluateAll((as) => as.map((a) => (a as HTMLAnchorElement).getAttribute("href")));
    expect(links).toEqual(NOTEBOOKS.map((n) => `${n}.html`));
    expect(await page.locator("table.runs td.status-ok").count()).toBe(NOTEBOOKS.length);
    await page.screenshot({ path: path.join(OUT, "screenshots", "index.png") });
    expect(errors).toEqual([]);
    expect(external).toEqual([]);
    await close();
  }, 60_000);

  for (const name of NOTEBOOKS) {
    it(`${name}: loads from file:// with no errors, draws every figure, renders its tables`, async () => {
      const { page, errors, external, close } = await open(name);
      const plots = await page.locator(".nl-plot").count();
      const expected = (fs.readFileSync(path.join(OUT, `${name}.ipynb`), "utf8").match(/"application\/vnd\.plotly\.v1\+json"/g) ?? []).length;
      expect(plots).toBe(expected);
      await page.waitForFunction((n) => document.querySelectorAll(".nl-plot[data-drawn]").length === n, plots, { timeout: 150_000 });
      // Each figure is an SVG with its data traces drawn: markers, lines, bars or heatmap images.
      const drawn = await page.locator(".nl-plot").evaluateAll((els) => els.map((el) => ({
        svg: el.querySelectorAll("svg.main-svg").length,
        traces: el.querySelectorAll("g.trace, g.hm").length,
        marks: el.querySelectorAll("g.trace path.point, g.trace path.js-line, g.trace path, g.hm image").length,
        width: el.getBoundingClientRect().width,
      })));
      for (const [i, d] of drawn.entries()) {
        expect(d.svg, `${name} figure ${i}`).toBeGreaterThan(0);
        expect(d.traces, `${name} figure ${i}`).toBeGreaterThan(0);
        expect(d.marks, `${name} figure ${i}`).toBeGreaterThan(0);
        expect(d.width, `${name} figure ${i}`).toBeGreaterThan(300);
      }
      // Tables from outputs render with rows that take up space.
      const tables = await page.locator(".html-output table").evaluateAll((ts) => ts.map((t) => ({
        rows: (t as HTMLTableElement).tBodies[0]?.rows.length ?? 0, height: t.getBoundingClientRect().height,
      })));
      for (const t of tables) {
        expect(t.rows).toBeGreaterThan(0);
        expect(t.height).toBeGreaterThan(10);
      }
      // Code is highlighted and markdown rendered; every code cell ran.
      expect(await page.locator("pre.source .hljs-keyword").count()).toBeGreaterThan(0);
      expect(await page.locator(".cell.markdown h1").count()).toBeGreaterThan(0);
      expect(await page.locator(".cell.code.not-run").count()).toBe(0);
      // Display math in the markdown is typeset by KaTeX, with its fonts loaded from assets/.
      if (fs.readFileSync(path.join(ROOT, "notebooks", `${name}.ipynb`), "utf8").includes("$$")) {
        expect(await page.locator(".cell.markdown .katex-display .katex-html").count()).toBeGreaterThan(0);
        expect(await page.evaluate(async () => { await document.fonts.ready; return document.fonts.check("16px KaTeX_Main"); })).toBe(true);
      }
      expect(await page.locator("pre.error-output").count()).toBe(0);
      await page.screenshot({ path: path.join(OUT, "screenshots", `${name}.png`), fullPage: true });
      expect(errors).toEqual([]);
      expect(external).toEqual([]);
      await close();
    }, 300_000);
  }

  it("sortable tables sort when their header is clicked", async () => {
    const name = NOTEBOOKS.find((n) => fs.readFileSync(path.join(OUT, `${n}.html`), "utf8").includes("nlSort_"));
    expect(name).toBeDefined();
    const { page, errors, close } = await open(name!);
    const table = page.locator(".html-output table:has(th[onclick])").first();
    await table.locator("th").nth(0).click();
    await table.locator("th").nth(0).click();
    expect(await table.getAttribute("data-dir")).toBe("desc");
    const first = await table.locator("tbody tr").evaluateAll((rs) => rs.map((r) => (r as HTMLTableRowElement).cells[0].getAttribute("data-v") ?? ""));
    const sorted = [...first].sort((a, b) => (Number.isNaN(parseFloat(a)) || Number.isNaN(parseFloat(b)) ? (a < b ? 1 : a > b ? -1 : 0) : parseFloat(b) - parseFloat(a)));
    expect(first).toEqual(sorted);
    expect(errors).toEqual([]);
    await close();
  }, 300_000);
});
