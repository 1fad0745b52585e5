/**
 * Widgets through the public API: the state each control sends equals what ipywidgets 8 sends
 * (keys, model/view names and versions, defaults), typed properties with checks and change
 * events, selections, jslink, Output capture and interact re-runs, the static fallback where no
 * widget frontend runs, and the explorer redrawing and measuring KL on the bundled model.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as lab from "../src/index";
import { hasPythonModule, noVenvReason, runPython, warnSkip } from "./helpers/python";
import { withHost } from "./helpers/widget-host";

const W = lab.widgets;
const VIEW = "application/vnd.jupyter.widget-view+json";


describe("the state matches ipywidgets 8", () => {
  const ok = hasPythonModule("ipywidgets");
  if (!ok) warnSkip("state vs ipywidgets", noVenvReason("ipywidgets"));
  it.skipIf(!ok)("every control: keys, names, module versions and defaults", () => {
    const classes = ["IntSlider", "FloatSlider", "IntRangeSlider", "Dropdown", "ToggleButtons", "Checkbox", "Text", "Button", "Label", "HTML", "Output", "HBox", "VBox", "Tab", "Play"] as const;
    const py = runPython(`
import json, sys, ipywidgets as w
out = {}
for name in json.load(sys.stdin):
    x = getattr(w, name)()
    s = x.get_state()
    out[name] = {"state": s, "layout": x.layout.get_state(), "style": x.style.get_state() if hasattr(x, "style") else None}
print(json.dumps(out, default=str))`, classes);
    for (const name of classes) {
      const ours = new (W[name] as new () => lab.widgets.Widget<any>)();
      const s = ours.serializedState().state;
      const theirs = py[name].state as Record<string, unknown>;
      expect(Object.keys(s).sort(), name).toEqual(Object.keys(theirs).sort());
      for (const [k, v] of Object.entries(theirs)) {
        if (k === "layout" || k === "style") expect(s[k], `${name}.${k}`).toMatch(/^IPY_MODEL_[0-9a-f]{32}$/);
        else expect(s[k], `${name}.${k}`).toEqual(v);
      }
      const layout = (ours as unknown as { layout: lab.widgets.Widget<any> }).layout.serializedState().state;
      expect(layout, `${name}.layout`).toEqual(py[name].layout);
      if (py[name].style) expect((ours as unknown as { style: lab.widgets.Widget<any> }).style.serializedState().state, `${name}.style`).toEqual(py[name].style);
    }
    const link = W.jslink([new W.Play(), "value"], [new W.IntSlider(), "value"]).serializedState().state;
    expect(link).toMatchObject({ _model_name: "LinkModel", _model_module: "@jupyter-widgets/controls", _model_module_version: "2.0.0", _view_name: null });
    expect((link.source as string[])[1]).toBe("value");
  });
});

describe("controls", () => {
  it("typed properties: checks, clamping and change events", () => {
    const s = new W.IntSlider({ value: 5, max: 10 });
    const seen: [number, number][] = [];
    const stop = s.observe("value", (c) => seen.push([c.old, c.new]));
    s.value = 7;
    s.value = 70;                       // clamped to max
    s.max = 6;                          // re-clamps the value
    stop();
    s.value = 1;
    expect(seen).toEqual([[5, 7], [7, 10], [10, 6]]);
    expect(() => new W.IntSlider({ value: 1.5 })).toThrow(/IntSlider\.value: expected an integer, got 1\.5/);
    expect(() => new W.IntSlider({ bogus: 1 } as never)).toThrow(/IntSlider: unknown property 'bogus'/);
    expect(() => { s.min = 100; }).toThrow(/IntSlider\.min: 100 is above max 6/);
    expect(() => new W.ToggleButtons({ options: ["a"], button_style: "pink" as never })).toThrow(/one of "primary"/);
    const r = new W.IntRangeSlider({ min: 0, max: 8 });
    expect(r.value).toEqual([2, 6]);
    expect(() => { r.value = [5, 1]; }).toThrow(/lower 5 is above upper 1/);
  });

  it("selections keep index, value and label together", () => {
    const d = new W.Dropdown({ options: ["mamba", ["MLP", "mlp"]] });
    expect([d.index, d.value, d.label, d._options_labels]).toEqual([0, "mamba", "mamba", ["mamba", "MLP"]]);
    const values: unknown[] = [];
    d.observe("value", (c) => values.push(c.new));
    d.index = 1;
    expect([d.value, d.label]).toEqual(["mlp", "MLP"]);
    d.value = "mamba";
    expect(d.index).toBe(0);
    expect(values).toEqual(["mlp", "mamba"]);
    expect(() => { d.value = "attention"; }).toThrow(/Dropdown\.value: "attention" is not one of the options \(mamba, MLP\)/);
    d.options = [["x", 1], ["MLP", "mlp"]] as never;
    expect(d.index).toBe(0);
  });

  it("a frontend update is echoed, applied, and not sent back; a kernel set sends one update", () => withHost((h) => {
    const s = new W.IntSlider({ value: 1 });
    const id = s.modelId;
    h.sent.length = 0;
    h.deliver(id, { method: "update", state: { value: 4 }, buffer_paths: [] });
    expect(s.value).toBe(4);
    expect(h.sent.map((m) => m.data)).toEqual([{ method: "echo_update", state: { value: 4 }, buffer_paths: [] }]);
    h.sent.length = 0;
    s.hold(() => { s.value = 9; s.description = "d"; });
    expect(h.sent.map((m) => m.data)).toEqual([{ method: "update", state: { value: 9, description: "d" }, buffer_paths: [] }]);
    expect(() => h.deliver(id, { method: "nope" })).toThrow(/unknown widget message method "nope"/);
  }));

  it("Tab titles follow its children; boxes hold widgets", () => {
    const a = new W.Label({ value: "A" }), b = new W.HTML({ value: "<i>B</i>" });
    const t = new W.Tab({ children: [a, b], titles: ["first"] });
    expect(t.titles).toEqual(["first", ""]);
    expect(t.selected_index).toBe(0);
    t.selected_index = 1;
    expect(t.staticHtml()).toContain("<i>B</i>");
    expect(() => { t.selected_index = 2; }).toThrow(/outside the 2 children/);
    expect(() => new W.HBox([1 as never])).toThrow(/HBox\.children\[0\]: expected a widget/);
  });
});

describe("without a widget frontend", () => {
  it("widgets display as static text and HTML of their current state, never the widget view", () => {
    const c = new W.Checkbox({ value: true, description: "on" });
    const b = lab.mimeBundleOf(c);
    expect(b[VIEW]).toBeUndefined();
    expect(b["text/html"]).toContain("checked");
    expect(b["text/plain"]).toBe('Checkbox(description="on", value=true)');
  });

  it("interact runs fn at once and on every change, replacing its output", async () => {
    const i = lab.interact(({ n, kind }) => `n=${n} kind=${kind}`, { n: { min: 0, max: 8 }, kind: ["mamba", "mlp"] }, { display: false });
    expect(i.output.captured).toEqual([{ "text/plain": "n=4 kind=mamba" }]);
    i.controls.n.value = 7;
    i.controls.kind.value = "mlp";
    expect(i.output.captured).toEqual([{ "text/plain": "n=7 kind=mlp" }]);
    expect(i.staticHtml()).toContain("n=7 kind=mlp");
    // An async fn: changes during a run coalesce into one more run with the latest values.
    const calls: number[] = [];
    const a = lab.interact(async ({ k }) => { calls.push(k); await new Promise((r) => setTimeout(r, 5)); return k * 2; }, { k: 3 }, { display: false });
    await a.ready;
    a.controls.k.value = 4;
    a.controls.k.value = 5;
    a.controls.k.value = 6;
    await a.update();
    expect(calls).toEqual([3, 4, 6]);
    expect(a.output.captured).toEqual([{ "text/plain": "12" }]);
    // An error shows in the output; the controls keep working.
    const e = lab.interact(({ x }) => { if (x) throw new RangeError("no x"); return "fine"; }, { x: false }, { display: false });
    e.controls.x.value = true;
    expect(e.output.captured[0]["text/plain"]).toBe("RangeError: no x");
  });
});

describe("Output capture", () => {
  it("sets msg_id to the request being handled for the duration, async included", async () => withHost(async (h) => {
    const o = new W.Output();
    h.sent.length = 0;
    await o.capture(async () => {
      lab.display({ "text/html": "<b>1</b>" });
      await new Promise((r) => setTimeout(r, 1));
      lab.display({ "text/html": "<b>2</b>" });
    });
    expect(h.sent.map((m) => (m.data!.state as Record<string, unknown>).msg_id)).toEqual(["request-1", ""]);
    expect(o.captured.map((b) => b["text/html"])).toEqual(["<b>1</b>", "<b>2</b>"]);
    o.clear();
    expect(o.captured).toEqual([]);
  }));

  it("binary values go as buffers at their paths", () => withHost((h) => {
    const spec = { ...new W.Label().spec, name: "Arr" };
    const props = { ...spec.props, data: { ...spec.props.value, check: (v: unknown) => v } };
    const w = new W.Widget({ ...spec, props }, { data: { values: new Float32Array([1, 2]), dims: [2] } });
    const open = h.sent.find((m) => m.id === w.modelId && m.kind === "open")!;
    expect(open.data!.buffer_paths).toEqual([["data", "values"]]);
    expect(open.data!.state).toMatchObject({ data: { dims: [2] } });
    expect(Array.from(new Float32Array(open.buffers[0].slice().buffer))).toEqual([1, 2]);
  }));
});

describe("the explorer on the bundled model", () => {
  let dir: string;
  beforeAll(async () => { dir = await lab.bundledModel(); }, 120_000);

  it("redraws for a new layer, quantizes in the model (KL > 0) and reverts (KL 0)", () => {
    const e = lab.explore(dir, { display: false, bins: 40 });
    expect(e.kind.options.map((o) => o[0])).toEqual(expect.arrayContaining(["mamba", "attention", "mlp"]));
    const figs = () => e.plots.captured.map((b) => b["application/vnd.plotly.v1+json"] as { data: { x: number[]; y: number[] }[]; layout: { title: { text: string } } });
    const first = figs();
    expect(first.length).toBe(2);
    expect(first[0].layout.title.text).toContain(e.tensor.value as string);
    e.layer.index = e.layer.options.length - 1;
    const second = figs();
    expect(second[0].layout.title.text).toContain(`layers.${e.layer.value}.`);
    expect(second[0].data[0].x).not.toEqual(first[0].data[0].x);
    const sqnrTensor = /SQNR dB<\/td><td[^>]*>([\d.]+)/.exec(e.metrics.value)![1];
    e.granularity.value = "channel";
    expect(/SQNR dB<\/td><td[^>]*>([\d.]+)/.exec(e.metrics.value)![1]).not.toBe(sqnrTensor);
    expect(e.lastRedrawMs).toBeGreaterThan(0);
    e.quantizeButton.click();
    expect(e.shift!.klMean).toBeGreaterThan(0);
    expect(e.result.value).toMatch(/KL mean <span class="nl-kl">[\d.e+-]+<\/span> nats, top-1 agreement [\d.]+% of \d+ positions/);
    expect(e.model.replacedWeights()).toEqual([e.tensor.value]);
    e.revertButton.click();
    expect(e.shift!.klMean).toBe(0);
    expect(e.model.replacedWeights()).toEqual([]);
    expect(e.staticHtml()).toContain("quantize in model");
  }, 120_000);
});
