/**
 * Model inventory: every block of the checkpoint with its kind, tensors, parameter count
 * and bytes by dtype, plus totals. Data first; text and HTML renderings on top.
 */
import type { Checkpoint } from "./checkpoint";
import { DType } from "../tensor/dtype";
import { formatBytes, formatCount, htmlTable, textTable } from "../util/format";

export interface InventoryBlock {
  /** Path prefix in the checkpoint: backbone.layers.12, backbone.embeddings, lm_head, ... */
  path: string;
  kind: string;
  layer: number | null;
  tensors: { name: string; dtype: DType; shape: number[]; params: number; bytes: number; scale?: string }[];
  params: number;
  bytes: number;
  bytesByDtype: Partial<Record<DType, number>>;
}

export interface Inventory {
  blocks: InventoryBlock[];
  params: number;
  bytes: number;
  bytesByDtype: Partial<Record<DType, number>>;
  paramsByKind: Record<string, number>;
  weightFormat: string;
}

const SCALE_SUFFIXES = [".weight_scale", ".weight_scale_inv", ".input_scale", ".k_scale", ".v_scale"];

function blockOf(name: string): { path: string; layer: number | null } {
  const m = /^(?:backbone|model)\.layers\.(\d+)\./.exec(name);
  if (m) return { path: m[0].slice(0, -1), layer: Number(m[1]) };
  const parts = name.split(".");
  return { path: parts.length > 2 ? parts.slice(0, 2).join(".") : parts[0], layer: null };
}

export function inventory(ckpt: Checkpoint): Inventory {
  const plan = ckpt.config ? ckpt.plan : [];
  const blocks = new Map<string, InventoryBlock>();
  const totals: Partial<Record<DType, number>> = {};
  const paramsByKind: Record<string, number> = {};
  let params = 0, bytes = 0;
  for (const t of ckpt.tensors.values()) {
    const { path, layer } = blockOf(t.name);
    const kind = layer !== null ? (plan[layer]?.kind ?? "layer") : path.includes("embed") ? "embedding" : path === "lm_head" ? "head" : path.includes("norm_f") ? "norm" : "other";
    let b = blocks.get(path);
    if (!b) {
      b = { path, kind, layer, tensors: [], params: 0, bytes: 0, bytesByDtype: {} };
      blocks.set(path, b);
    }
    // Scale tensors are bytes of the model but not parameters.
    const isScale = SCALE_SUFFIXES.some((s) => t.name.endsWith(s));
    const p = isScale ? 0 : t.numel;
    b.tensors.push({ name: t.name, dtype: t.dtype, shape: [...t.shape], params: p, bytes: t.nbytes, ...(t.scale ? { scale: t.scale.granularity } : {}) });
    b.params += p; b.bytes += t.nbytes;
    b.bytesByDtype[t.dtype] = (b.bytesByDtype[t.dtype] ?? 0) + t.nbytes;
    totals[t.dtype] = (totals[t.dtype] ?? 0) + t.nbytes;
    paramsByKind[kind] = (paramsByKind[kind] ?? 0) + p;
    params += p; bytes += t.nbytes;
  }
  const order = (b: InventoryBlock) => (b.kind === "embedding" ? -2 : b.layer ?? (b.kind === "norm" ? 1e9 : 1e9 + 1));
  return {
    blocks: [...blocks.values()].sort((a, b) => order(a) - order(b)),
    params, bytes, bytesByDtype: totals, paramsByKind, weightFormat: ckpt.weightFormat,
  };
}

function dtypeSummary(d: Partial<Record<DType, number>>): string {
  return Object.entries(d).map(([k, v]) => `${k} ${formatBytes(v!)}`).join(", ");
}

export function inventoryRows(inv: Inventory): (string | number)[][] {
  return inv.blocks.map((b) => [b.path, b.kind, b.tensors.length, b.params, formatBytes(b.bytes), dtypeSummary(b.bytesByDtype)]);
}

const HEADER = ["block", "kind", "tensors", "params", "bytes", "by dtype"];

export function inventoryText(inv: Inventory): string {
  const rows = inventoryRows(inv);
  rows.push(["total", "", inv.blocks.reduce((a, b) => a + b.tensors.length, 0), inv.params, formatBytes(inv.bytes), dtypeSummary(inv.bytesByDtype)]);
  const kinds = Object.entries(inv.paramsByKind).map(([k, v]) => `${k} ${formatCount(v)}`).join(", ");
  return `${textTable(HEADER, rows)}\n\nparameters: ${formatCount(inv.params)} (${kinds}); weights: ${inv.weightFormat}`;
}

export function inventoryHtml(inv: Inventory): string {
  return htmlTable(HEADER, inventoryRows(inv), `${formatCount(inv.params)} parameters, ${formatBytes(inv.bytes)}, ${inv.weightFormat}`);
}
