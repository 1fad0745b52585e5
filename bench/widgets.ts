/**
 * The explorer's update round trip on the bundled model: a frontend update (the layer dropdown,
 * then the granularity) delivered to the widget, through stats, quantization, metrics and both
 * figures, to the messages that would leave the kernel, JSON-encoded as the wire does. Printed
 * beside the 200 ms budget of the issue (the socket hop itself is well under a millisecond). The same
 * for the activation explorer: every layer and head, then every logit-lens position.
 */
import { bundledModel } from "../src/tiny/bundled";
import { explore } from "../src/widgets/explorer";
import { exploreActivations } from "../src/widgets/activations";
import { NemotronH } from "../src/model/nemotron-h";
import { setWidgetHost, type WidgetHost } from "../src/widgets/protocol";
import { setDisplaySink } from "../src/display/display";
import { row } from "./common";

const BUDGET_MS = 200;

export async function run(): Promise<void> {
  console.log("\n== widgets: explorer update round trip (bundled tiny model)");
  let bytes = 0;
  const handlers = new Map<string, (d: Record<string, unknown>, b: Uint8Array[]) => void>();
  let n = 0;
  const host: WidgetHost = {
    open: (_t, data) => {
      const id = `b${n++}`;
      bytes += JSON.stringify(data).length;
      return { commId: id, send: (d) => { bytes += JSON.stringify(d).length; }, close: () => undefined, onMsg: (h) => void handlers.set(id, h), onClose: () => undefined };
    },
    registerTarget: () => undefined,
    parentMsgId: () => "bench",
  };
  setWidgetHost(host);
  setDisplaySink({ display: (b) => { bytes += JSON.stringify(b).length; }, update: (b) => { bytes += JSON.stringify(b).length; }, clear: () => undefined });
  try {
    const dir = await bundledModel();
    const e = explore(dir, { display: false });
    const times: number[] = [];
    let slowest = "";
    const frontend = (w: { modelId: string }, state: Record<string, unknown>, what: () => string) => {
      bytes = 0;
      const t = performance.now();
      handlers.get(w.modelId)!({ method: "update", state, buffer_paths: [] }, []);
      const ms = performance.now() - t;
      if (ms > Math.max(0, ...times)) slowest = what();
      times.push(ms);
    };
    const report = (label: string) => {
      times.sort((a, b) => a - b);
      const median = times[Math.floor(times.length / 2)], worst = times[times.length - 1];
      row(`${label} (${times.length} changes)`, `${median.toFixed(1)} ms`, `median; budget ${BUDGET_MS} ms (${((median / BUDGET_MS) * 100).toFixed(0)}%)`);
      row("  slowest change", `${worst.toFixed(1)} ms`, `${((worst / BUDGET_MS) * 100).toFixed(0)}% of the budget (${slowest})`);
      row("  bytes out for the last change", `${(bytes / 1024).toFixed(0)} KiB`, "JSON as on the wire");
      times.length = 0;
    };
    const tensor = () => String(e.tensor.value);
    for (const kind of e.kind.options.keys()) {
      frontend(e.kind, { index: kind }, tensor);
      for (let i = 0; i < e.layer.options.length; i++) frontend(e.layer, { index: i }, tensor);
    }
    for (const g of [1, 2, 0]) frontend(e.granularity, { index: g }, tensor);
    report("control change -> figures sent");

    const a = exploreActivations(NemotronH.load(dir), "The old lighthouse keeper said that the sea", { display: false });
    const pick = () => `${a.kind.value} layer ${a.layer.value} head ${a.head.value}`;
    for (const kind of a.kind.options.keys()) {
      frontend(a.kind, { index: kind }, pick);
      for (let i = 0; i < a.layer.options.length; i++) {
        frontend(a.layer, { index: i }, pick);
        for (let h = 1; h <= a.head.max; h++) frontend(a.head, { value: h }, pick);
      }
    }
    for (let p = 0; p <= a.position.max; p++) frontend(a.position, { value: p }, () => `position ${p}`);
    report("activation explorer change -> redrawn");
  } finally {
    setWidgetHost(undefined);
    setDisplaySink(undefined);
  }
}
