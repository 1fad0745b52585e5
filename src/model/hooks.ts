/**
 * Hook selection for a model: names and globs (backbone.layers.*.mixer.dt) resolved against
 * the architecture table's hook points, with their shapes for T tokens and the bytes a
 * selection needs. Opt-in hooks (ssm_state, effective_attention) are selected only by a
 * pattern that spells their name out.
 */
import { NemotronHConfig, derivedSizes } from "./config";
import { globToRegExp } from "../util/glob";
import { LOGITS_HOOK, ModelHook, modelHooks } from "./arch";

/** The longest prompt an O(T²) hook (pattern, effective_attention) accepts. */
export const MAX_SQUARE_TOKENS = 4096;

export interface SelectedHook extends ModelHook {
  shape: number[];
}

/**
 * The hooks matching names or globs, in forward order; an unknown name is an error naming it. A glob
 * passes over hooks that cannot serve the call: read-only ones when patching, O(T²) ones when the
 * pass continues a state (an exact name still selects them, and gets the error that says why).
 */
export function selectHooks(c: NemotronHConfig, patterns: readonly string[], T: number,
  call: { patch?: boolean; fresh?: boolean } = {}): { hooks: SelectedHook[]; logits: boolean } {
  const all = modelHooks(c);
  const s = derivedSizes(c);
  const picked = new Set<string>();
  let logits = false;
  for (const p of patterns) {
    if (p === LOGITS_HOOK) { logits = true; continue; }
    const re = globToRegExp(p);
    const exact = p === all.find((h) => h.name === p)?.name;
    const usable = (h: ModelHook) => exact || !((call.patch && h.entry.readOnly) || (call.fresh === false && h.entry.square));
    const hits = all.filter((h) => re.test(h.name) && (!h.entry.optIn || p.includes(h.entry.point)) && usable(h));
    if (hits.length === 0 && !(p.includes("*") && re.test(LOGITS_HOOK))) {
      const near = all.filter((h) => h.name.startsWith(p.split("*")[0].replace(/\.[^.]*$/, ""))).slice(0, 4).map((h) => h.name);
      throw new Error(`unknown hook '${p}'; hooks are named by module path, e.g. ${(near.length ? near : all.slice(0, 4).map((h) => h.name)).join(", ")} ` +
        `(model.hookPoints() lists all ${all.length})`);
    }
    if (re.test(LOGITS_HOOK)) logits = true;
    for (const h of hits) picked.add(h.name);
  }
  const hooks = all.filter((h) => picked.has(h.name)).map((h) => ({ ...h, shape: h.entry.shape(c, s, T) }));
  for (const h of hooks) {
    if (h.entry.square && T > MAX_SQUARE_TOKENS) {
      throw new RangeError(`${h.name}: [heads, T, T] is O(T²) per head; T = ${T} exceeds ${MAX_SQUARE_TOKENS} tokens`);
    }
  }
  return { hooks, logits };
}

/** Bytes the float32 values of these hooks take (and the logits when asked). */
export function selectionBytes(c: NemotronHConfig, hooks: readonly SelectedHook[], logits: boolean, T: number): number {
  return 4 * (hooks.reduce((a, h) => a + h.shape.reduce((x, y) => x * y, 1), 0) + (logits ? T * c.vocab_size : 0));
}
