/**
 * The Jupyter widget messaging protocol (version 2.1) on top of a kernel's comms: the comm
 * targets `jupyter.widget` (one comm per widget model) and `jupyter.widget.control` (every model's
 * state in one reply), binary buffers split out of state by path, and the display mime type.
 * The kernel installs a WidgetHost (its comm layer plus the current request's msg_id); without one
 * (a plain Node script, a test) widgets still work locally and display as static HTML. Host and
 * model registry live on globalThis so two copies of this package (the kernel's and a notebook's)
 * share them, as the display sink does.
 */

export const PROTOCOL_VERSION = "2.1.0";
export const CONTROL_PROTOCOL_VERSION = "1.0.0";
export const WIDGET_TARGET = "jupyter.widget";
export const CONTROL_TARGET = "jupyter.widget.control";
export const VIEW_MIME = "application/vnd.jupyter.widget-view+json";
/** The display_data payload's schema version (ipywidgets 8 sends 2.0). */
export const VIEW_VERSION = { version_major: 2, version_minor: 0 } as const;
export const CONTROLS_MODULE = { module: "@jupyter-widgets/controls", version: "2.0.0" } as const;
export const BASE_MODULE = { module: "@jupyter-widgets/base", version: "2.0.0" } as const;
export const OUTPUT_MODULE = { module: "@jupyter-widgets/output", version: "1.0.0" } as const;

type Data = Record<string, unknown>;

/** What a widget needs of a comm (kernel/session/comms.ts's Comm has it). */
export interface WidgetComm {
  readonly commId: string;
  send(data: Data, metadata?: Data, buffers?: Uint8Array[]): void;
  close(data?: Data): void;
  onMsg(handler: (data: Data, buffers: Uint8Array[]) => void): void;
  onClose(handler: (data: Data) => void): void;
}

export interface WidgetHost {
  open(targetName: string, data: Data, metadata: Data, buffers: Uint8Array[], commId?: string): WidgetComm;
  registerTarget(targetName: string, handler: (comm: WidgetComm, data: Data, buffers: Uint8Array[], metadata: Data) => void): void;
  /** msg_id of the request being handled (an execute_request or a comm_msg): Output widgets capture by it. */
  parentMsgId(): string | undefined;
}

/** A kernel-side model the targets can answer for. */
export interface WidgetModel {
  readonly modelId: string;
  /** Full state, buffers split out. */
  serializedState(): { state: Data; bufferPaths: (string | number)[][]; buffers: Uint8Array[] };
  modelHeader(): { model_name: string; model_module: string; model_module_version: string };
}

const HOST_KEY = Symbol.for("nemotron-lab.widgetHost");
const MODELS_KEY = Symbol.for("nemotron-lab.widgetModels");
const OPENED_KEY = Symbol.for("nemotron-lab.widgetFrontendOpened");
const g = globalThis as Record<symbol, unknown>;

export function setWidgetHost(host: WidgetHost | undefined): void {
  g[HOST_KEY] = host;
}

export function widgetHost(): WidgetHost | undefined {
  return g[HOST_KEY] as WidgetHost | undefined;
}

/** Every live model by id (the control comm's answer, and how IPY_MODEL_ references resolve). */
export function widgetModels(): Map<string, WidgetModel> {
  return (g[MODELS_KEY] ??= new Map<string, WidgetModel>()) as Map<string, WidgetModel>;
}

/** A frontend-created model: what to build for a comm_open on jupyter.widget (set by widget.ts). */
export type FrontendOpened = (comm: WidgetComm, state: Data) => void;
export function setFrontendOpenedHandler(fn: FrontendOpened): void {
  g[OPENED_KEY] = fn;
}

// ---- binary buffers -------------------------------------------------------------------------

function isBinary(v: unknown): v is ArrayBufferView | ArrayBuffer {
  return ArrayBuffer.isView(v) || v instanceof ArrayBuffer;
}

function bytesOf(v: ArrayBufferView | ArrayBuffer): Uint8Array {
  return v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/**
 * Splits binary values out of a JSON-ready state: a buffer under an object key is removed, one in
 * a list is replaced by null; its path goes to bufferPaths (the protocol's buffer_paths).
 */
export function removeBuffers(state: Data): { state: Data; bufferPaths: (string | number)[][]; buffers: Uint8Array[] } {
  const bufferPaths: (string | number)[][] = [];
  const buffers: Uint8Array[] = [];
  const walk = (v: unknown, path: (string | number)[]): unknown => {
    if (Array.isArray(v)) {
      return v.map((x, i) => {
        if (isBinary(x)) { bufferPaths.push([...path, i]); buffers.push(bytesOf(x)); return null; }
        return walk(x, [...path, i]);
      });
    }
    if (v !== null && typeof v === "object") {
      const out: Data = {};
      for (const [k, x] of Object.entries(v)) {
        if (isBinary(x)) { bufferPaths.push([...path, k]); buffers.push(bytesOf(x)); continue; }
        out[k] = walk(x, [...path, k]);
      }
      return out;
    }
    return v;
  };
  return { state: walk(state, []) as Data, bufferPaths, buffers };
}

/** The inverse of removeBuffers: puts each buffer back at its path (as a DataView, like the JS frontend). */
export function putBuffers(state: Data, bufferPaths: unknown, buffers: Uint8Array[]): Data {
  if (bufferPaths === undefined) return state;
  if (!Array.isArray(bufferPaths)) throw new TypeError(`widget message: buffer_paths must be a list of paths, got ${JSON.stringify(bufferPaths)}`);
  if (bufferPaths.length !== buffers.length) {
    throw new RangeError(`widget message: ${bufferPaths.length} buffer_paths but ${buffers.length} binary buffers`);
  }
  bufferPaths.forEach((p, i) => {
    if (!Array.isArray(p) || p.length === 0) throw new TypeError(`widget message: buffer_paths[${i}] must be a non-empty list, got ${JSON.stringify(p)}`);
    let obj: unknown = state;
    for (const key of p.slice(0, -1)) {
      const next = (obj as Record<string | number, unknown>)[key];
      if (next === null || typeof next !== "object") throw new TypeError(`widget message: buffer path ${JSON.stringify(p)} goes through a non-container at ${JSON.stringify(key)}`);
      obj = next;
    }
    const b = buffers[i];
    (obj as Record<string | number, unknown>)[p[p.length - 1]] = new DataView(b.buffer, b.byteOffset, b.byteLength);
  });
  return state;
}

// ---- the comm targets -----------------------------------------------------------------------

function majorOf(v: unknown): string {
  return typeof v === "string" ? v.split(".")[0] : "";
}

/**
 * Registers jupyter.widget (frontend-created models) and jupyter.widget.control (request_states)
 * on the host. The kernel calls this at start, before any widget code runs: JupyterLab opens the
 * control comm as soon as it connects.
 */
export function registerWidgetTargets(host: WidgetHost): void {
  host.registerTarget(CONTROL_TARGET, (comm, _data, _buffers, metadata) => {
    const version = metadata.version ?? CONTROL_PROTOCOL_VERSION;
    if (majorOf(version) !== majorOf(CONTROL_PROTOCOL_VERSION)) {
      comm.close();
      throw new Error(`jupyter.widget.control: protocol version ${JSON.stringify(version)} is not ${CONTROL_PROTOCOL_VERSION}`);
    }
    comm.onMsg((data) => {
      if (data.method !== "request_states") throw new Error(`jupyter.widget.control: unknown method ${JSON.stringify(data.method)} (expected "request_states")`);
      const states: Data = {};
      const bufferPaths: (string | number)[][] = [];
      const buffers: Uint8Array[] = [];
      for (const [id, m] of widgetModels()) {
        const s = m.serializedState();
        states[id] = { ...m.modelHeader(), state: s.state };
        for (const p of s.bufferPaths) bufferPaths.push([id, "state", ...p]);
        buffers.push(...s.buffers);
      }
      comm.send({ method: "update_states", states, buffer_paths: bufferPaths }, {}, buffers);
    });
  });
  host.registerTarget(WIDGET_TARGET, (comm, data, buffers, metadata) => {
    const version = metadata.version ?? PROTOCOL_VERSION;
    if (majorOf(version) !== majorOf(PROTOCOL_VERSION)) {
      comm.close();
      throw new Error(`jupyter.widget: protocol version ${JSON.stringify(version)} is not ${PROTOCOL_VERSION}`);
    }
    const state = data.state;
    if (state === null || typeof state !== "object" || Array.isArray(state)) {
      comm.close();
      throw new TypeError(`jupyter.widget comm_open: data.state must be an object, got ${JSON.stringify(state)}`);
    }
    // The model classes load on first use; a frontend may open a model before any cell made one.
    if (!g[OPENED_KEY]) require("./widget");
    (g[OPENED_KEY] as FrontendOpened)(comm, putBuffers(state as Data, data.buffer_paths, buffers));
  });
}
