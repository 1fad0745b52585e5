/**
 * A widget model on the kernel side: typed properties checked on every set, change events
 * (`w.observe("value", fn)`), state synced with the frontend over its jupyter.widget comm
 * (update / echo_update / request_state / custom), and a display bundle carrying the widget view
 * plus a static text and HTML rendering of the current state for frontends without widgets.
 * Each model class is a table of property specs (./props); controls.ts defines the core ones.
 */
import { randomUUID } from "crypto";
import { DISPLAY_SYMBOL, type MimeBundle } from "../display/display";
import {
  PROTOCOL_VERSION, VIEW_MIME, VIEW_VERSION, WIDGET_TARGET, putBuffers, removeBuffers, setFrontendOpenedHandler,
  widgetHost, widgetModels, type WidgetComm, type WidgetModel,
} from "./protocol";
import { anyJson, json, sameValue, type Prop, type PropTable } from "./props";

export interface ModuleRef { module: string; version: string }

/** What a model class is: its frontend names and its properties. */
export interface ModelSpec {
  /** The class name shown in text (IntSlider). */
  name: string;
  modelName: string;
  model: ModuleRef;
  viewName: string | null;
  view: ModuleRef;
  props: PropTable;
}

/** The value types of a property table: `interface IntSlider extends StateOf<typeof PROPS> {}`. */
export type StateOf<T extends PropTable> = { [K in keyof T]: T[K] extends Prop<infer V> ? V : never };

export interface Change<V = unknown> {
  type: "change";
  name: string;
  old: V;
  new: V;
  owner: Widget<any>;
}

type Observer = (change: Change<any>) => void;
type CustomHandler = (content: unknown, buffers: Uint8Array[]) => void;

export class Widget<S extends object = Record<string, unknown>> implements WidgetModel {
  readonly modelId: string;
  private readonly store: Record<string, unknown> = {};
  private readonly observers = new Map<string, Set<Observer>>();
  private readonly customHandlers: CustomHandler[] = [];
  private comm?: WidgetComm;
  /** JSON of the values a frontend update is applying: not sent back (ipywidgets' property lock). */
  private lock?: Map<string, string>;
  private holding = 0;
  private readonly pending = new Set<string>();
  private isClosed = false;

  constructor(readonly spec: ModelSpec, init: Partial<S> = {}, opened?: WidgetComm) {
    const props = spec.props;
    for (const k of Object.keys(init)) {
      if (!(k in props)) throw new TypeError(`${spec.name}: unknown property '${k}'; it has ${Object.keys(props).filter((p) => !p.startsWith("_")).join(", ")}`);
    }
    for (const [k, p] of Object.entries(props)) {
      const v = (init as Record<string, unknown>)[k];
      this.store[k] = v === undefined ? p.default() : p.check(v, `${spec.name}.${k}`);
    }
    for (const k of Object.keys(props)) {
      if (k in this) continue;   // a class's own accessor (Dropdown.value) wins
      Object.defineProperty(this, k, { get: () => this.store[k], set: (v: unknown) => this.set({ [k]: v } as Partial<S>), enumerable: true });
    }
    this.prepare(this.store, init as Record<string, unknown>);
    for (const k of Object.keys(props)) this.store[k] = this.coerce(k, this.store[k]);
    const host = widgetHost();
    if (opened) {
      this.comm = opened;
    } else if (host) {
      const s = this.serializedState();
      this.comm = host.open(WIDGET_TARGET, { state: s.state, buffer_paths: s.bufferPaths }, { version: PROTOCOL_VERSION }, s.buffers);
    }
    this.modelId = this.comm?.commId ?? randomUUID().replace(/-/g, "");
    widgetModels().set(this.modelId, this);
    this.comm?.onMsg((data, buffers) => this.receive(data, buffers));
    this.comm?.onClose(() => this.forget());
  }

  /** True when a kernel carries this model to a frontend (a comm is open). */
  get live(): boolean {
    return !!this.comm && !this.isClosed;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get<K extends keyof S & string>(name: K): S[K] {
    if (!(name in this.spec.props)) throw new TypeError(`${this.spec.name}: unknown property '${name}'`);
    return this.store[name] as S[K];
  }

  /** Sets properties (checked), sends the changed synced ones in one update, then calls observers. */
  set(changes: Partial<S>): void {
    const done: Change[] = [];
    this.hold(() => {
      for (const [k, v] of Object.entries(changes)) {
        const p = this.spec.props[k];
        if (!p) throw new TypeError(`${this.spec.name}: unknown property '${k}'; it has ${Object.keys(this.spec.props).filter((x) => !x.startsWith("_")).join(", ")}`);
        const value = this.coerce(k, p.check(v, `${this.spec.name}.${k}`));
        const old = this.store[k];
        if (sameValue(old, value)) continue;
        this.store[k] = value;
        if (p.sync) this.pending.add(k);
        done.push({ type: "change", name: k, old, new: value, owner: this });
        this.changed(k, old, value);
      }
    });
    for (const c of done) this.notify(c);
  }

  /** Calls fn on changes of `names` ("*" for any); returns a function that stops it. */
  observe<K extends keyof S & string>(names: K | K[] | "*", fn: (change: Change<S[K]>) => void): () => void {
    const list = names === "*" ? ["*"] : Array.isArray(names) ? names : [names];
    for (const n of list) {
      if (n !== "*" && !(n in this.spec.props)) throw new TypeError(`${this.spec.name}.observe: no property '${n}'`);
      let set = this.observers.get(n);
      if (!set) this.observers.set(n, (set = new Set()));
      set.add(fn as Observer);
    }
    return () => { for (const n of list) this.observers.get(n)?.delete(fn as Observer); };
  }

  /** A custom message to the frontend model (method "custom"); binary buffers go as buffers. */
  send(content: unknown, buffers: Uint8Array[] = []): void {
    this.comm?.send({ method: "custom", content }, {}, buffers);
  }

  /** Calls fn on each custom message from the frontend. */
  onCustom(fn: CustomHandler): void {
    this.customHandlers.push(fn);
  }

  /** Groups sets into one update message. */
  hold<T>(fn: () => T): T {
    this.holding++;
    try {
      return fn();
    } finally {
      if (--this.holding === 0) this.flush();
    }
  }

  /** Closes the comm: the frontend drops the model and its views. */
  close(): void {
    if (this.isClosed) return;
    this.comm?.close();
    this.forget();
  }

  // ---- for subclasses -------------------------------------------------------------------------

  /** Before the first state goes out: fills values that depend on others (a range slider's default). */
  protected prepare(_values: Record<string, unknown>, _init: Record<string, unknown>): void {}

  /** Adjusts a checked value before it is stored (clamping a slider's value). */
  protected coerce(_name: string, value: unknown): unknown {
    return value;
  }

  /** Runs after a property changed, inside the same update (keeping dependent values consistent). */
  protected changed(_name: string, _old: unknown, _value: unknown): void {}

  /** The static rendering for frontends without widgets. */
  staticHtml(): string {
    return `<div class="nl-widget">${this.spec.name}</div>`;
  }

  // ---- protocol -------------------------------------------------------------------------------

  modelHeader(): { model_name: string; model_module: string; model_module_version: string } {
    return { model_name: this.spec.modelName, model_module: this.spec.model.module, model_module_version: this.spec.model.version };
  }

  /** The full synced state as the protocol sends it (buffers split out). */
  serializedState(keys?: Iterable<string>): { state: Record<string, unknown>; bufferPaths: (string | number)[][]; buffers: Uint8Array[] } {
    const state: Record<string, unknown> = {};
    if (!keys) {
      Object.assign(state, {
        _model_module: this.spec.model.module, _model_module_version: this.spec.model.version, _model_name: this.spec.modelName,
        _view_module: this.spec.view.module, _view_module_version: this.spec.view.version, _view_name: this.spec.viewName,
      });
    }
    for (const k of keys ?? Object.keys(this.spec.props)) {
      const p = this.spec.props[k];
      if (p.sync) state[k] = p.toJson(this.store[k]);
    }
    return removeBuffers(state);
  }

  private flush(): void {
    if (!this.pending.size) return;
    const keys = [...this.pending].filter((k) => !(this.lock?.has(k) && this.lock.get(k) === json(this.spec.props[k].toJson(this.store[k]))));
    this.pending.clear();
    if (!keys.length || !this.live) return;
    const s = this.serializedState(keys);
    this.comm!.send({ method: "update", state: s.state, buffer_paths: s.bufferPaths }, {}, s.buffers);
  }

  private receive(data: Record<string, unknown>, buffers: Uint8Array[]): void {
    switch (data.method) {
      case "update": {
        if (data.state === null || typeof data.state !== "object" || Array.isArray(data.state)) {
          throw new TypeError(`${this.spec.name} ${this.modelId}: update without a state object`);
        }
        const state = putBuffers(data.state as Record<string, unknown>, data.buffer_paths, buffers);
        const known = Object.keys(state).filter((k) => this.spec.props[k]?.sync);
        // Echo first, so every frontend learns the order of updates (protocol 2.1).
        const echo = known.filter((k) => this.spec.props[k].echo);
        if (echo.length && this.live) {
          const e = removeBuffers(Object.fromEntries(echo.map((k) => [k, state[k]])));
          this.comm!.send({ method: "echo_update", state: e.state, buffer_paths: e.bufferPaths }, {}, e.buffers);
        }
        const changes: Record<string, unknown> = {};
        for (const k of known) changes[k] = this.spec.props[k].fromJson(state[k], `${this.spec.name}.${k} (from the frontend)`);
        this.lock = new Map(known.map((k) => [k, json(state[k])]));
        try {
          this.set(changes as Partial<S>);
        } finally {
          this.lock = undefined;
        }
        return;
      }
      case "request_state": {
        const s = this.serializedState();
        this.comm?.send({ method: "update", state: s.state, buffer_paths: s.bufferPaths }, {}, s.buffers);
        return;
      }
      case "custom":
        for (const h of this.customHandlers) h(data.content, buffers);
        return;
      default:
        throw new Error(`${this.spec.name} ${this.modelId}: unknown widget message method ${JSON.stringify(data.method)} (expected update, request_state or custom)`);
    }
  }

  private notify(c: Change): void {
    for (const fn of [...(this.observers.get(c.name) ?? []), ...(this.observers.get("*") ?? [])]) fn(c);
  }

  private forget(): void {
    this.isClosed = true;
    widgetModels().delete(this.modelId);
  }

  // ---- display --------------------------------------------------------------------------------

  toString(): string {
    const shown = Object.entries(this.spec.props)
      .filter(([k, p]) => !k.startsWith("_") && !p.isRef && !sameValue(this.store[k], p.default()))
      .map(([k]) => `${k}=${JSON.stringify(this.store[k])}`);
    return `${this.spec.name}(${shown.join(", ")})`;
  }

  [DISPLAY_SYMBOL](): MimeBundle {
    const bundle: MimeBundle = { "text/plain": this.toString(), "text/html": this.staticHtml() };
    if (this.live) bundle[VIEW_MIME] = { ...VIEW_VERSION, model_id: this.modelId };
    return bundle;
  }
}

/** A model the frontend created: kept with whatever state it sent, synced both ways. */
setFrontendOpenedHandler((comm, state) => {
  const str = (k: string) => (typeof state[k] === "string" ? (state[k] as string) : "");
  const props: PropTable = {};
  for (const k of Object.keys(state)) if (!/^_(model|view)_(module|module_version|name)$/.test(k)) props[k] = anyJson(null);
  const spec: ModelSpec = {
    name: str("_model_name") || "Widget", modelName: str("_model_name"),
    model: { module: str("_model_module"), version: str("_model_module_version") },
    viewName: str("_view_name") || null, view: { module: str("_view_module"), version: str("_view_module_version") }, props,
  };
  const init = Object.fromEntries(Object.keys(props).map((k) => [k, state[k]]));
  new Widget(spec, init, comm);
});
