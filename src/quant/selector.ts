/**
 * Which tensors to quantize, as a selector string (the same in the API and on the CLI):
 *
 *   SELECTOR := TERM ("," TERM)*
 *   TERM     := ["!"] ATOM ("&" ATOM)*          "!" excludes; "&" intersects
 *   ATOM     := PRESET | KIND | LAYERS | GLOB
 *   PRESET   := all-linear (alias all)          every linear weight, lm_head included
 *             | nvidia-fp8                     NVIDIA's FP8 release: Mamba, MLP and MoE-expert linears;
 *                                              attention, conv1d, embeddings, norms, lm_head stay BF16
 *   KIND     := mamba | attention | mlp | moe | lm_head     the linear weights of that block kind
 *   LAYERS   := layers:RANGE("+"RANGE)*        RANGE = N or A-B (inclusive), e.g. layers:0-9+40
 *   GLOB     := a tensor path with * (any run) and ? (one character), matched against the
 *               tensor name and its module path: backbone.layers.*.mixer.in_proj
 *
 * The result is the union of the positive terms (all-linear when there are only
 * exclusions) minus the union of the excluded ones. Examples: "mamba,mlp",
 * "layers:0-9", "all-linear,!attention", "mamba&layers:0-9,!*.out_proj".
 *
 * Tensors that must stay in high precision (A_log, D, dt_bias, norms, conv1d, embeddings,
 * biases, the MoE router) are only ever matched by a glob, and are refused unless forced.
 * A term that matches nothing is an error that lists what the model has.
 */
import type { NemotronHConfig } from "../model/config";
import { expectedTensors } from "../model/arch";
import { globToRegExp } from "../util/glob";
import { UserError } from "../util/errors";

export type SelectKind = "mamba" | "attention" | "mlp" | "moe" | "lm_head" | "embedding" | "norm";

export interface TensorInfo {
  name: string;
  /** The module path (the name without its last segment). */
  module: string;
  /** Block index, or -1 for embeddings / final norm / lm_head. */
  layer: number;
  kind: SelectKind;
  /** A linear weight ([out, in]) that FP8 may replace. */
  linear: boolean;
  /** Must stay high precision unless forced. */
  protected: boolean;
}

export interface SelectOptions {
  /** Allow globs to select high-precision tensors (A_log, D, norms, conv1d, ...). */
  force?: boolean;
}

const KINDS = new Set(["mamba", "attention", "mlp", "moe", "lm_head"]);
const PRESETS = new Set(["all-linear", "all", "nvidia-fp8"]);

export class SelectorError extends UserError {
  override name = "SelectorError";
}

/** Every tensor of a config's layer plan, with what the selectors need to know about it. */
export function tensorInfos(config: NemotronHConfig, present?: (name: string) => boolean): TensorInfo[] {
  return expectedTensors(config).filter((e) => !present || present(e.name)).map((e) => {
    const kind: SelectKind = e.name === "lm_head.weight" ? "lm_head" : e.kind === "embedding" ? "embedding" : e.kind === "head" ? "norm" : e.kind;
    const router = /\.mixer\.gate\.weight$/.test(e.name);
    return { name: e.name, module: e.name.slice(0, e.name.lastIndexOf(".")), layer: e.layer, kind, linear: e.linear && !router, protected: !e.linear || router };
  });
}

/** The names selected by `selector` among `universe` (in universe order). */
export function selectTensors(selector: string, universe: TensorInfo[], options: SelectOptions = {}): string[] {
  const terms = selector.split(",").map((s) => s.trim()).filter(Boolean);
  if (!terms.length) throw new SelectorError(`empty selector; ${syntaxHint()}`);
  const include = new Set<string>(), exclude = new Set<string>();
  let positives = 0;
  for (const raw of terms) {
    const negative = raw.startsWith("!");
    const term = negative ? raw.slice(1).trim() : raw;
    if (!term) throw new SelectorError(`selector term '${raw}' has nothing after '!'`);
    const atoms = term.split("&").map((a) => a.trim());
    let matched = universe;
    for (const atom of atoms) matched = matched.filter(atomMatcher(atom, raw));
    const allowed = matched.filter((t) => !t.protected || options.force);
    if (!negative) {
      positives++;
      if (!allowed.length) {
        if (matched.length) {
          throw new SelectorError(`selector term '${raw}' matches only tensors that must stay in high precision ` +
            `(${matched.slice(0, 4).map((t) => t.name).join(", ")}${matched.length > 4 ? ", ..." : ""}): ` +
            "A_log, D, dt_bias, norms, conv1d, embeddings, biases and the MoE router are not quantized unless forced (force: true / --force)");
        }
        throw new SelectorError(`selector term '${raw}' matches no tensor. ${describeUniverse(universe)}`);
      }
      for (const t of allowed) include.add(t.name);
    } else {
      for (const t of matched) exclude.add(t.name);
    }
  }
  if (positives === 0) for (const t of universe) if (t.linear) include.add(t.name);
  const out = universe.filter((t) => include.has(t.name) && !exclude.has(t.name)).map((t) => t.name);
  if (!out.length) throw new SelectorError(`selector '${selector}' leaves no tensor after its exclusions. ${describeUniverse(universe)}`);
  return out;
}

function atomMatcher(atom: string, term: string): (t: TensorInfo) => boolean {
  if (atom === "all-linear" || atom === "all") return (t) => t.linear;
  if (atom === "nvidia-fp8") return (t) => t.linear && (t.kind === "mamba" || t.kind === "mlp" || t.kind === "moe");
  if (KINDS.has(atom)) return (t) => t.linear && t.kind === atom;
  if (atom.startsWith("layers:")) {
    const ranges = atom.slice("layers:".length).split("+").map((r) => {
      const m = /^(\d+)(?:-(\d+))?$/.exec(r.trim());
      if (!m) throw new SelectorError(`selector term '${term}': '${r}' is not a layer index N or range A-B (e.g. layers:0-9+40)`);
      const a = Number(m[1]), b = m[2] === undefined ? a : Number(m[2]);
      if (b < a) throw new SelectorError(`selector term '${term}': range ${r} ends before it starts`);
      return [a, b] as const;
    });
    return (t) => t.linear && t.layer >= 0 && ranges.some(([a, b]) => t.layer >= a && t.layer <= b);
  }
  if (/[*?.]/.test(atom)) {
    const re = globToRegExp(atom);
    return (t) => re.test(t.name) || re.test(t.module);
  }
  throw new SelectorError(`selector term '${term}': unknown word '${atom}'. ${syntaxHint()}`);
}

function syntaxHint(): string {
  return `Use presets (${[...PRESETS].join(", ")}), block kinds (${[...KINDS].join(", ")}), layers:A-B, ` +
    "or tensor path globs (backbone.layers.*.mixer.in_proj); combine with ',' (union), '&' (intersection) and '!' (exclusion)";
}

/** What the model has, for error messages: kinds with their layers, and a few module paths. */
export function describeUniverse(universe: TensorInfo[]): string {
  const byKind = new Map<string, Set<number>>();
  for (const t of universe) if (t.linear) {
    const s = byKind.get(t.kind) ?? new Set<number>();
    if (t.layer >= 0) s.add(t.layer);
    byKind.set(t.kind, s);
  }
  const kinds = [...byKind].map(([k, s]) => (s.size ? `${k} (layers ${compactRanges([...s])})` : k)).join(", ");
  const layers = universe.map((t) => t.layer).filter((l) => l >= 0);
  const examples = [...new Set(universe.filter((t) => t.linear).map((t) => t.module))].slice(0, 3).join(", ");
  return `This model has linear weights of kinds ${kinds || "none"}; layers ${layers.length ? `0-${Math.max(...layers)}` : "none"}; ` +
    `modules such as ${examples}. ${syntaxHint()}`;
}

export function compactRanges(xs: number[]): string {
  const s = [...new Set(xs)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < s.length;) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j] + 1) j++;
    out.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return out.join(",");
}

/** The layers that stay unquantized among the linear modules: compressed-tensors' "ignore" list. */
export function unquantizedLinearModules(universe: TensorInfo[], selected: Iterable<string>): string[] {
  const sel = new Set(selected);
  return universe.filter((t) => t.linear && !sel.has(t.name)).map((t) => t.module);
}
