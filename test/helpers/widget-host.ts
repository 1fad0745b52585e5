// A fake kernel comm layer for widget tests: it records what widgets send, and deliver() plays
// the frontend (an update, a custom message) on a widget's comm.
import * as lab from "../../src/index";

export interface Sent { kind: "open" | "msg" | "close"; id: string; data?: Record<string, unknown>; metadata?: Record<string, unknown>; buffers: Uint8Array[] }

/** A fake kernel comm layer recording what widgets send; deliver() plays the frontend. */
export function fakeHost() {
  const sent: Sent[] = [];
  const handlers = new Map<string, (d: Record<string, unknown>, b: Uint8Array[]) => void>();
  let n = 0;
  const host: lab.widgets.WidgetHost = {
    open(_target, data, metadata, buffers) {
      const id = `m${n++}`;
      sent.push({ kind: "open", id, data, metadata, buffers });
      return {
        commId: id,
        send: (d, _m, b = []) => void sent.push({ kind: "msg", id, data: d, buffers: b }),
        close: () => void sent.push({ kind: "close", id, buffers: [] }),
        onMsg: (h) => void handlers.set(id, h),
        onClose: () => undefined,
      };
    },
    registerTarget: () => undefined,
    parentMsgId: () => "request-1",
  };
  return { host, sent, deliver: (id: string, data: Record<string, unknown>, buffers: Uint8Array[] = []) => handlers.get(id)!(data, buffers) };
}

export function withHost<T>(fn: (h: ReturnType<typeof fakeHost>) => T): T {
  const h = fakeHost();
  lab.widgets.setWidgetHost(h.host);
  try {
    return fn(h);
  } finally {
    lab.widgets.setWidgetHost(undefined);
  }
}
