/**
 * Property specs of widget models: the default, the check every set runs (a clear TypeError naming
 * Class.property and what was expected), whether it syncs with the frontend, and its JSON form.
 * Widget references travel as "IPY_MODEL_<id>" strings, binary values as protocol buffers.
 */
import { widgetModels, type WidgetModel } from "./protocol";

export interface Prop<T> {
  default(): T;
  check(v: unknown, where: string): T;
  /** A frontend value to ours (references resolved); checked afterwards by set(). */
  fromJson(v: unknown, where: string): unknown;
  toJson(v: T): unknown;
  readonly sync: boolean;
  /** Echoed back to frontends when one sends it (protocol 2.1 echo_update). */
  readonly echo: boolean;
  /** Holds other widgets (left out of text representations). */
  readonly isRef?: boolean;
}

export type PropTable = Record<string, Prop<any>>;

function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v === undefined) return "undefined";
  if (typeof v === "object" && v !== null) return v.constructor?.name ?? "object";
  return String(v);
}

/** Stable JSON for comparisons. */
export function json(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (ArrayBuffer.isView(x) ? Array.from(new Uint8Array(x.buffer, x.byteOffset, x.byteLength)) : x)) ?? "undefined";
}

export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  return json(a) === json(b);
}

function prop<T>(d: () => T, check: (v: unknown, where: string) => T, extra: Partial<Prop<T>> = {}): Prop<T> {
  return { default: d, check, fromJson: (v) => v, toJson: (v) => v, sync: true, echo: true, ...extra };
}

export function int(d: number): Prop<number> {
  return prop(() => d, (v, where) => {
    if (typeof v !== "number" || !Number.isInteger(v)) throw new TypeError(`${where}: expected an integer, got ${show(v)}`);
    return v;
  });
}

export function float(d: number): Prop<number> {
  return prop(() => d, (v, where) => {
    if (typeof v !== "number" || !Number.isFinite(v)) throw new TypeError(`${where}: expected a finite number, got ${show(v)}`);
    return v;
  });
}

export function bool(d: boolean): Prop<boolean> {
  return prop(() => d, (v, where) => {
    if (typeof v !== "boolean") throw new TypeError(`${where}: expected true or false, got ${show(v)}`);
    return v;
  });
}

export function str(d: string): Prop<string> {
  return prop(() => d, (v, where) => {
    if (typeof v !== "string") throw new TypeError(`${where}: expected a string, got ${show(v)}`);
    return v;
  });
}

export function choice<T extends string>(values: readonly T[], d: T): Prop<T> {
  return prop(() => d, (v, where) => {
    if (!values.includes(v as T)) throw new TypeError(`${where}: expected one of ${values.map((x) => JSON.stringify(x)).join(", ")}, got ${show(v)}`);
    return v as T;
  });
}

export function nullable<T>(p: Prop<T>): Prop<T | null> {
  return { ...p, default: () => null, check: (v, where) => (v === null ? null : p.check(v, where)), toJson: (v) => (v === null ? null : p.toJson(v)), fromJson: (v, where) => (v === null ? null : p.fromJson(v, where)) };
}

export function list<T>(item: Prop<T>, d: () => T[] = () => []): Prop<T[]> {
  return prop(d, (v, where) => {
    if (!Array.isArray(v)) throw new TypeError(`${where}: expected a list, got ${show(v)}`);
    return v.map((x, i) => item.check(x, `${where}[${i}]`));
  }, {
    toJson: (v) => v.map((x) => item.toJson(x)),
    fromJson: (v, where) => (Array.isArray(v) ? v.map((x, i) => item.fromJson(x, `${where}[${i}]`)) : v),
    isRef: item.isRef,
  });
}

/** Any JSON value (frontend-created models, Output's outputs). */
export function anyJson<T = unknown>(d: T): Prop<T> {
  return prop(() => structuredClone(d), (v) => v as T);
}

/** Not synced: kernel-side only (Dropdown's value and options). */
export function local<T>(p: Prop<T>): Prop<T> {
  return { ...p, sync: false };
}

/** Never echoed (large values a frontend sends, such as Output's outputs). */
export function noEcho<T>(p: Prop<T>): Prop<T> {
  return { ...p, echo: false };
}

/** A reference to another widget model ("IPY_MODEL_<id>" on the wire). */
export function ref<W extends WidgetModel>(make: () => W, what = "a widget"): Prop<W> {
  return prop(make, (v, where) => {
    if (v === null || typeof v !== "object" || typeof (v as WidgetModel).modelId !== "string") throw new TypeError(`${where}: expected ${what}, got ${show(v)}`);
    return v as W;
  }, { toJson: (w) => `IPY_MODEL_${w.modelId}`, fromJson: resolveRef, isRef: true });
}

export function widgetRef(): Prop<WidgetModel> {
  return ref(() => { throw new TypeError("a widget reference has no default"); });
}

export function resolveRef(v: unknown, where: string): unknown {
  if (typeof v !== "string" || !v.startsWith("IPY_MODEL_")) return v;
  const w = widgetModels().get(v.slice("IPY_MODEL_".length));
  if (!w) throw new TypeError(`${where}: no widget model ${v.slice("IPY_MODEL_".length)} in this kernel`);
  return w;
}
