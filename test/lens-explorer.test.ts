// lab.exploreActivations on the bundled model through the widget protocol: a frontend update of
// a control (as JupyterLab sends it) redraws the head's matrix or the logit lens at the position,
// and what it shows equals the lens views computed directly.
import { beforeAll, describe, expect, it } from "vitest";
import * as lab from "../src/index";
import { logitLens } from "../src/lens/views";
import { escapeHtml as escape } from "../src/util/format";
import { withHost } from "./helpers/widget-host";

type Fig = { data: { z: number[][]; x?: string[] }[]; layout: { title: { text: string } } };
const PLOTLY = "application/vnd.plotly.v1+json";

describe("exploreActivations on the bundled model", () => {
  let model: lab.NemotronH;
  beforeAll(async () => { model = lab.NemotronH.load(await lab.bundledModel()); }, 120_000);

  it("frontend updates of mixer, layer, head and position redraw what the views compute", () => withHost((h) => {
    const tok = lab.TextTokenizer.load(model.checkpoint.dir);
    const ids = tok.encode("Der Hund ist");
    const e = lab.exploreActivations(model, ids, { display: false });
    const fig = () => e.plot.captured.map((b) => b[PLOTLY] as Fig)[0];
    const update = (w: lab.widgets.Widget<any>, state: Record<string, unknown>) => {
      h.sent.length = 0;
      h.deliver(w.modelId, { method: "update", state, buffer_paths: [] });
      // The frontend's change is echoed back, and the figure goes out in the Output's captured state.
      expect(h.sent.some((m) => (m.data as { method?: string }).method === "echo_update")).toBe(true);
    };
    const mamba = model.checkpoint.plan.filter((l) => l.kind === "mamba").map((l) => l.index);
    const attn = model.checkpoint.plan.filter((l) => l.kind === "attention").map((l) => l.index);
    expect(e.kind.value).toBe("mamba");
    expect(e.layer.options.map((o) => o[1])).toEqual(mamba);
    expect(e.head.max).toBe(model.config.mamba_num_heads - 1);
    expect(fig().layout.title.text).toBe(`layer ${mamba[0]} Mamba-2 effective attention, head 0`);
    expect(fig().data[0].x).toEqual(ids.map((id, i) => `${i}:${tok.decode([id])}`));

    const direct = (layer: number, head: number, point: string) => {
      const c = model.runWithCache(ids, { names: [`backbone.layers.${layer}.mixer.${point}`] });
      const v = c.get(`backbone.layers.${layer}.mixer.${point}`).values(), T = ids.length;
      return Array.from({ length: T }, (_, t) => Array.from(v.subarray((head * T + t) * T, (head * T + t + 1) * T)));
    };
    update(e.layer, { index: 3 });
    update(e.head, { value: 5 });
    expect(fig().layout.title.text).toBe(`layer ${mamba[3]} Mamba-2 effective attention, head 5`);
    expect(fig().data[0].z).toEqual(direct(mamba[3], 5, "effective_attention"));
    expect(e.lastRedrawMs).toBeGreaterThan(0);

    // Attention has fewer heads: the slider's bound follows, and the value is clamped into it.
    update(e.kind, { index: 1 });
    expect(e.layer.options.map((o) => o[1])).toEqual(attn);
    expect(e.head.max).toBe(model.config.num_attention_heads - 1);
    expect(e.head.value).toBe(model.config.num_attention_heads - 1);
    expect(fig().layout.title.text).toBe(`layer ${attn[0]} attention, head ${e.head.value}`);
    expect(fig().data[0].z).toEqual(direct(attn[0], e.head.value, "pattern"));
    expect(e.plot.captured.length).toBe(1);

    // The logit lens follows the position slider; its last row is the model's own top token there.
    const lens = logitLens(model, model.runWithCache(ids, { names: model.checkpoint.plan.map((l) => l.path) }), 3);
    const L = model.config.num_hidden_layers;
    for (const p of [1, ids.length - 1]) {
      update(e.position, { value: p });
      const rows = [...e.lens.value.matchAll(/<tr><td>(\d+)<\/td><td>\w+<\/td><td>(.*?) [\d.]+<\/td>/g)];
      expect(rows.length).toBe(L);
      expect(e.lens.value).toContain(`at position ${p} (${escape(JSON.stringify(tok.decode([ids[p]])))})`);
      expect(rows[L - 1][2]).toBe(escape(JSON.stringify(tok.decode([lens.ids[L - 1][p][0]]))));
    }
    expect(e.staticHtml()).toContain("logit lens at position");
  }), 120_000);

  it("refuses an empty prompt and shows a bad head in place", () => {
    expect(() => lab.exploreActivations(model, [], { display: false })).toThrow(/the prompt has no tokens/);
    expect(() => lab.effectiveAttentionView(model.runWithCache([1, 2, 3], { names: ["backbone.layers.0.mixer.effective_attention"] }), 0, 99))
      .toThrow(/head 99 is outside \[0, 8\)/);
  });
});
