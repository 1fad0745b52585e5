/**
 * The explorer's update round trip on the bundled model: a frontend update (the layer dropdown,
 * then the granularity) delivered to the widget, through stats, quantization, metrics and both
 * figures, to the messages that would leave the kernel, JSON-encoded as the wire does. Printed
 * beside the 200 ms budget of the issue (the socket hop itself is well under a millisecond).
 */
import { bundledModel } from "../src/tiny/bundled";
import { explore } from "../src/widgets/explorer";
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
    const e = explore(await bundledModel(), { display: false });
    const times: number[] = [];
    let slowest = "";
    const frontend = (w: { modelId: string }, state: Record<string, unknown>) => {
      bytes = 0;
      const t = performance.now();
      handlers.get(w.modelId)!({ method: "update", state, buffer_paths: [] }, []);
      const ms = performance.now() - t;
      if (ms > Math.max(0, ...times)) slowest = String(e.tensor.value);
      times.push(ms);
    };
    for (const kind of e.kind.options.keys()) {
      frontend(e.kind, { index: kind });
      for (let i = 0; i < e.layer.options.length; i++) frontend(e.layer, { index: i });
    }
    for (const g of [1, 2, 0]) frontend(e.granularity, { index: g });
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)], worst = times[times.length - 1];
    row(`control change -> figures sent (${times.length} changes)`, `${median.toFixed(1)} ms`, `median; budget ${BUDGET_MS} ms (${((median / BUDGET_MS) * 100).toFixed(0)}%)`);
    row("  slowest change", `${worst.toFixed(1)} ms`, `${((worst / BUDGET_MS) * 100).toFixed(0)}% of the budget (${slowest})`);
    row("  bytes out for the last change", `${(bytes / 1024).toFixed(0)} KiB`, "JSON as on the wire");
  } finally {
    setWidgetHost(undefined);
    setDisplaySink(undefined);
  }
}
