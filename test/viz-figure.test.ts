/**
 * Figure's plotly JSON: titles given in plotly's older string form (which the plotly.js we ship,
 * 4.x, ignores) come out as {text} for the figure, its axes, its legend and colorbars, in the
 * notebook bundle and in the standalone HTML alike; object titles and the rest pass unchanged.
 */
import { describe, expect, it } from "vitest";
import { Figure } from "../src/index";

const PLOTLY = "application/vnd.plotly.v1+json";
const display = (f: Figure) => (f as unknown as Record<symbol, () => Record<string, any>>)[Symbol.for("Jupyter.display")]();

describe("Figure titles", () => {
  const fig = new Figure(
    [{ type: "heatmap", z: [[1, 2], [3, 4]], colorbar: { title: "dB" } }, { type: "scatter", y: [1, 2], marker: { colorbar: { title: "n" }, color: [1, 2] } }],
    { title: "residual RMS", xaxis: { title: "layer", type: "log" }, yaxis2: { title: { text: "kept", font: { size: 10 } } }, legend: { title: "kind" }, height: 300 });

  it("writes string titles as {text} in the notebook bundle", () => {
    const { layout, data } = display(fig)[PLOTLY];
    expect(layout.title).toEqual({ text: "residual RMS" });
    expect(layout.xaxis).toEqual({ title: { text: "layer" }, type: "log" });
    expect(layout.yaxis2).toEqual({ title: { text: "kept", font: { size: 10 } } });
    expect(layout.legend).toEqual({ title: { text: "kind" } });
    expect(layout.height).toBe(300);
    expect(data[0].colorbar).toEqual({ title: { text: "dB" } });
    expect(data[1].marker.colorbar).toEqual({ title: { text: "n" } });
    expect(display(fig)["text/plain"]).toBe("Figure(residual RMS: 2 trace(s))");
    // The figure itself is left as the caller built it.
    expect(fig.layout.title).toBe("residual RMS");
  });

  it("does the same in the standalone HTML", () => {
    const html = fig.toHtml();
    expect(html).toContain('"title":{"text":"residual RMS"}');
    expect(html).toContain('"xaxis":{"title":{"text":"layer"}');
    expect(html).not.toMatch(/"title":"/);
  });
});
