/**
 * Driving a notebook in JupyterLab's page (playwright) and reading what it shows: the notebook
 * model's state (kernel status, execution counts, error outputs), the Run/File/Kernel menus,
 * what plotly drew inside our renderer's nodes, and, per code cell, the outputs the model holds
 * beside what the output area draws (figures, widgets, tables and their widths, and how each
 * figure's layout reads: tick labels, titles and legend).
 * The page must expose the app (`--LabApp.expose_app_in_browser`, as startJupyterLab does).
 */
import * as fs from "fs";
import * as path from "path";
import type { Locator, Page } from "playwright-core";
import type { JupyterLabServer } from "./jupyterlab";

/** What the page's notebook model says: code cells, their execution counts and error outputs. */
export interface NbState { kernel: string; code: number; executed: number; errors: string[] }

export async function state(page: Page): Promise<NbState> {
  return page.evaluate(() => {
    const app = (window as unknown as { jupyterapp: any }).jupyterapp;
    const w = app.shell.currentWidget;
    const cells = w?.content?.widgets?.filter((c: any) => c.model.type === "code") ?? [];
    const errors: string[] = [];
    for (const c of cells) for (const o of c.model.outputs.toJSON()) if (o.output_type === "error") errors.push(`${o.ename}: ${o.evalue}`);
    return {
      kernel: w?.sessionContext?.session?.kernel?.status ?? "none", code: cells.length,
      executed: cells.filter((c: any) => c.model.executionCount !== null && c.model.executionCount !== undefined).length, errors,
    };
  });
}

export async function waitFor(page: Page, what: string, pred: (s: NbState) => boolean, timeoutMs: number): Promise<NbState> {
  const deadline = Date.now() + timeoutMs;
  let s = await state(page);
  while (!pred(s)) {
    if (Date.now() > deadline) throw new Error(`${what}: timed out, last state ${JSON.stringify(s)}`);
    await page.waitForTimeout(200);
    s = await state(page);
  }
  return s;
}

/** A lab URL that starts from an empty workspace (`reset`): only the file it names is open, not what the last page had open. */
function freshLayout(url: string): string {
  return url.includes("?") ? url.replace("?", "?reset&") : `${url}?reset`;
}

/** Opens `file` (under the server's root) in the page and waits for its kernel to be idle. */
export async function openNotebook(page: Page, server: JupyterLabServer, file: string): Promise<void> {
  await page.goto(freshLayout(server.labUrl(file)));
  await page.waitForSelector(".jp-Notebook .jp-Cell", { timeout: 90_000 });
  await waitFor(page, `${file}: kernel ready`, (s) => s.kernel === "idle", 90_000);
}

/** Clicks `item` (the start of its label) in the menu bar's `top` menu. */
export async function menu(page: Page, top: string, item: string): Promise<void> {
  await page.locator(".lm-MenuBar-itemLabel", { hasText: new RegExp(`^${top}$`) }).click();
  await page.locator(".lm-Menu-itemLabel", { hasText: new RegExp(`^${item}`) }).first().click();
}

/** The output area of the notebook's code cell number `index` (0-based, code cells only). */
export function codeCellOutput(page: Page, index: number): Locator {
  return page.locator(".jp-Notebook .jp-CodeCell").nth(index).locator(".jp-Cell-outputArea");
}

export interface Drawn { svg: boolean; traces: number; bars: number; title: string }

/** What plotly drew inside our renderer's nodes under `root`: one entry per figure. */
export async function drawn(root: Locator): Promise<Drawn[]> {
  return root.evaluate((el) => Array.from(el.querySelectorAll(".nemotron-lab-plotly")).map((f) => ({
    svg: !!f.querySelector("svg.main-svg") && f.classList.contains("js-plotly-plot"),
    traces: f.querySelectorAll(".cartesianlayer .trace, .heatmaplayer .hm").length,
    bars: f.querySelectorAll(".barlayer .trace .point").length,
    title: f.querySelector(".gtitle")?.textContent ?? "",
  })));
}

/** One code cell as the model holds it and as its output area draws it. */
export interface CellView {
  /** Code cell number (0-based) and the start of its source, for messages. */
  index: number;
  source: string;
  trusted: boolean;
  /** Outputs in the model, and outputs the area draws (one per model output, in order). */
  outputs: number;
  drawnOutputs: number;
  /** Figure and widget-view outputs in the model, and how many of those the area drew. */
  plotly: number;
  plotlyDrawn: number;
  widgets: number;
  widgetViews: number;
  /** Every figure drawn by our renderer (inside widgets too): an SVG with at least one data trace (bars, lines, markers, a heatmap). */
  figures: { ok: boolean; traces: number; width: number; title: string; layout: string[] }[];
  /** Widget outputs showing an error instead of the widget. */
  widgetErrors: string[];
  /** Every <table> in the output area: its full (scroll) width, and the width of the output that holds it. */
  tables: { width: number; area: number }[];
  /** The output area's width. */
  area: number;
}

/** The view of every code cell of the current notebook. */
export async function cellViews(page: Page): Promise<CellView[]> {
  return page.evaluate(() => {
    const PLOTLY = "application/vnd.plotly.v1+json", WIDGET = "application/vnd.jupyter.widget-view+json";
    const nb = (window as any).jupyterapp.shell.currentWidget.content;
    const code = nb.widgets.filter((c: any) => c.model.type === "code");
    const overlap = (a: DOMRect, b: DOMRect) => Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1 && Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
    /** How a drawn figure reads at this width: a title, tick labels neither rotated nor on top of each other, titles and the legend inside the figure. */
    const layoutOf = (f: Element) => {
      const box = f.getBoundingClientRect(), problems: string[] = [];
      if (!(f.querySelector(".gtitle")?.textContent ?? "")) problems.push("no title drawn");
      for (const axis of ["x", "y"]) {
        for (const layer of Array.from(f.querySelectorAll(`.${axis}axislayer-above`))) {
          const ticks = Array.from(layer.querySelectorAll(`.${axis}tick text`)).filter((t) => (t.textContent ?? "") !== "");
          const rotated = ticks.filter((t) => /rotate\((?!0[,)])/.test(t.getAttribute("transform") ?? ""));
          if (rotated.length) problems.push(`${rotated.length} of ${ticks.length} ${axis} tick labels rotated`);
          const rects = ticks.map((t) => t.getBoundingClientRect());
          const crossing: string[] = [];
          for (let i = 0; i < rects.length; i++) {
            for (let j = i + 1; j < rects.length; j++) {
              if (!overlap(rects[i], rects[j])) continue;
              const where = (k: number) => `${JSON.stringify(ticks[k].textContent)}@${Math.round(axis === "x" ? rects[k].left - box.left : rects[k].top - box.top)}`;
              crossing.push(`${where(i)}/${where(j)}`);
            }
          }
          if (crossing.length) problems.push(`${crossing.length} pair(s) of ${axis} tick labels overlap (${ticks.length} ticks): ${crossing.slice(0, 4).join(", ")}`);
        }
      }
      for (const [what, sel] of [["title", ".gtitle"], ["legend", ".legend"], ["axis title", ".xtitle, .ytitle, .y2title, .x2title"]] as const) {
        for (const el of Array.from(f.querySelectorAll(sel))) {
          const r = el.getBoundingClientRect();
          if (r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1)) {
            problems.push(`${what} ${JSON.stringify((el.textContent ?? "").slice(0, 40))} outside the figure (${Math.round(r.left - box.left)}..${Math.round(r.right - box.left)} of ${Math.round(box.width)} px)`);
          }
        }
      }
      return problems;
    };
    const drawnFigure = (f: Element) => {
      const traces = f.querySelectorAll(".cartesianlayer .trace, .heatmaplayer .hm").length;
      const ok = !!f.querySelector("svg.main-svg") && f.classList.contains("js-plotly-plot") && traces > 0;
      return { ok, traces, width: f.getBoundingClientRect().width, title: f.querySelector(".gtitle")?.textContent ?? "", layout: ok ? layoutOf(f) : [] };
    };
    return code.map((c: any, index: number) => {
      const outputs = c.model.outputs.toJSON() as { data?: Record<string, unknown> }[];
      // A cell JupyterLab has not rendered yet has no output area: an empty one stands in, and what it lacks shows as problems.
      const area = (c.node.querySelector(".jp-Cell-outputArea") as HTMLElement | null) ?? document.createElement("div");
      // The cell's own outputs, not those nested in widgets (an Output widget holds output areas of its own).
      const own = Array.from(area.querySelectorAll(":scope > .jp-OutputArea-child > .jp-OutputArea-output"));
      const at = (i: number) => own[i] ?? document.createElement("div");
      const isWidget = (o: Element) => o.matches(".jupyter-widgets") || !!o.querySelector(".jupyter-widgets");
      const widgetAt = outputs.map((o, i) => (o.data?.[WIDGET] ? i : -1)).filter((i) => i >= 0);
      const plotlyAt = outputs.map((o, i) => (o.data?.[PLOTLY] ? i : -1)).filter((i) => i >= 0);
      const tables = Array.from(area.querySelectorAll("table")).map((t) => {
        const out = t.closest(".jp-OutputArea-output") as HTMLElement;
        return { width: t.scrollWidth, area: out.clientWidth };
      });
      return {
        index, source: c.model.sharedModel.getSource().slice(0, 80), trusted: !!c.model.trusted,
        outputs: outputs.length, drawnOutputs: own.length,
        plotly: plotlyAt.length, plotlyDrawn: plotlyAt.filter((i) => at(i).matches(".nemotron-lab-plotly") && drawnFigure(at(i)).ok).length,
        widgets: widgetAt.length, widgetViews: widgetAt.filter((i) => isWidget(at(i))).length,
        figures: Array.from(area.querySelectorAll(".nemotron-lab-plotly")).map(drawnFigure),
        widgetErrors: widgetAt.map((i) => at(i).textContent ?? "").filter((t) => /Error displaying widget|model not found/i.test(t)),
        tables, area: area.clientWidth,
      };
    });
  });
}

/**
 * Scrolls every code cell with outputs into view, one after another, through the notebook's own
 * scrollToCell: JupyterLab renders cells lazily and skips drawing cells out of view
 * (content-visibility), and a figure sizes itself to its node when it is drawn.
 */
export async function visitOutputs(page: Page): Promise<void> {
  await page.evaluate(async () => {
    const nb = (window as any).jupyterapp.shell.currentWidget.content;
    for (const c of nb.widgets as any[]) {
      if (c.model.type !== "code" || c.model.outputs.length === 0) continue;
      await nb.scrollToCell(c, "start");
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 30)));
    }
  });
}

/**
 * Saves the current notebook (Ctrl+S), closes its tab (the kernel lives on), edits the file on
 * disk outside JupyterLab so its trust signature no longer matches (no output script may run
 * when it is reopened), and opens it again. Returns the saved file's size in bytes.
 */
export async function saveCloseUntrustReopen(page: Page, server: JupyterLabServer, file: string): Promise<number> {
  await page.keyboard.press("Escape");
  await page.keyboard.press("Control+s");
  await page.waitForFunction(() => !(window as any).jupyterapp.shell.currentWidget.context.model.dirty, null, { timeout: 30_000 });
  const onDisk = path.join(server.rootDir, file);
  const size = fs.statSync(onDisk).size;
  const saved = JSON.parse(fs.readFileSync(onDisk, "utf8"));
  await menu(page, "File", "Close Tab");
  await page.waitForFunction(() => document.querySelectorAll(".jp-NotebookPanel").length === 0, null, { timeout: 30_000 });
  saved.metadata.nemotron_lab_test = "edited outside JupyterLab";
  fs.writeFileSync(onDisk, JSON.stringify(saved));
  // Opened again in the same page, as from the file browser (no reload of JupyterLab itself).
  await page.evaluate((p) => (window as any).jupyterapp.commands.execute("docmanager:open", { path: p }), file);
  await page.waitForSelector(".jp-Notebook .jp-Cell", { timeout: 90_000 });
  return size;
}

/**
 * Closes every open notebook tab without asking, then asks the server to shut down every kernel
 * session (test clean-up between notebooks), recording their kernels in deletedKernels. Waits
 * for the tabs' sessions to finish connecting, not for the kernels to be gone: the server takes
 * seconds to finish a shutdown, and an exiting kernel costs the next notebook nothing.
 */
export async function shutDownNotebooks(page: Page, server: JupyterLabServer): Promise<void> {
  await page.evaluate(async () => {
    const app = (window as any).jupyterapp;
    if (!app) return;   // no JupyterLab page yet
    const panels = (Array.from(app.shell.widgets("main")) as any[]).filter((w) => w.sessionContext);
    // A panel closed while its session context is still connecting (a notebook just reopened)
    // leaves that connection to finish after the close, outside any tab: let it finish first.
    await Promise.race([Promise.all(panels.map((w) => w.sessionContext.ready.catch(() => undefined))), new Promise((r) => setTimeout(r, 10_000))]);
    for (const w of panels) {
      w.context.model.dirty = false;   // so closing asks nothing
      w.close();
    }
  });
  await page.waitForFunction(() => document.querySelectorAll(".jp-NotebookPanel").length === 0, null, { timeout: 30_000 });
  const auth = { Authorization: `token ${server.token}` };
  const sessions = (await (await fetch(`${server.url}/api/sessions`, { headers: auth })).json()) as { id: string; kernel?: { id: string } }[];
  for (const s of sessions) {
    if (s.kernel) deletedKernels.add(s.kernel.id);
    void fetch(`${server.url}/api/sessions/${s.id}`, { method: "DELETE", headers: auth }).catch(() => undefined);
  }
}

/** The kernels shutDownNotebooks deleted (their ids). */
export const deletedKernels = new Set<string>();

/**
 * The page errors less JupyterLab's requests to kernels that shutDownNotebooks deleted (a kernel
 * connection that outlived its tab): websocket handshakes refused with 404, and 404 failed
 * resources naming such a kernel's URL (its channels, or its model as the page polls it), or
 * logged right after such a handshake without a URL.
 */
export function withoutReconnectsToDeletedKernels(errors: string[]): string[] {
  const handshake = /^console\.error: WebSocket connection to 'ws:\/\/[^']+\/api\/kernels\/([0-9a-f-]{36})\/channels[^']*' failed: Error during WebSocket handshake: Unexpected response code: 404$/;
  const resource = /^console\.error: Failed to load resource: the server responded with a status of 404 \(Not Found\)(?: \((?:ws|http)s?:\/\/[^ ]*\/api\/kernels\/([0-9a-f-]{36})(?:[/?][^ ]*)?\))?$/;
  return errors.filter((e, i) => {
    const h = handshake.exec(e);
    if (h) return !deletedKernels.has(h[1]);
    const r = resource.exec(e);
    if (!r) return true;
    if (r[1]) return !deletedKernels.has(r[1]);
    const before = i > 0 ? handshake.exec(errors[i - 1]) : null;
    return !(before && deletedKernels.has(before[1]));
  });
}

/**
 * What is wrong in the cells' views: a cell whose model holds figures or widgets that the output
 * area did not draw, a figure without an SVG or data traces, a widget showing an error, and a
 * table or figure wider than its output area. `widgets` false skips the widget checks (after a
 * reopen, widget views depend on the widget manager finding their models again).
 */
export function viewProblems(views: CellView[], options: { widgets: boolean }): string[] {
  return views.flatMap((v) => {
    const at = `cell ${v.index} (${JSON.stringify(v.source.split("\n")[0])})`;
    return [
      ...(v.drawnOutputs !== v.outputs ? [`${at}: ${v.outputs} output(s) in the model, ${v.drawnOutputs} drawn`] : []),
      ...(v.plotlyDrawn < v.plotly ? [`${at}: ${v.plotly} figure(s) in the model, ${v.plotlyDrawn} drawn by our renderer`] : []),
      ...v.figures.filter((f) => !f.ok).map((f) => `${at}: a figure without an SVG or data traces (${f.traces} traces)`),
      ...(options.widgets && v.widgetViews < v.widgets ? [`${at}: ${v.widgets} widget(s) in the model, ${v.widgetViews} drawn`] : []),
      ...(options.widgets ? v.widgetErrors.map((e) => `${at}: widget error ${e.slice(0, 120)}`) : []),
      ...v.tables.filter((t) => t.width > t.area).map((t) => `${at}: a table ${t.width} px wide in a ${t.area} px output`),
      ...v.figures.filter((f) => f.width > v.area + 1).map((f) => `${at}: a figure ${Math.round(f.width)} px wide in a ${v.area} px output area`),
      ...v.figures.flatMap((f) => f.layout.map((p) => `${at}: figure ${JSON.stringify(f.title.slice(0, 50))}: ${p}`)),
    ];
  });
}

/** Polls the cells' views until nothing is wrong or `timeoutMs` passes; returns the last views. */
export async function settledViews(page: Page, options: { widgets: boolean }, timeoutMs: number): Promise<CellView[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const views = await cellViews(page);
    if (viewProblems(views, options).length === 0 || Date.now() > deadline) return views;
    await page.waitForTimeout(250);
  }
}
