/**
 * config.json as Hugging Face writes it (Python's json module): reading it (bare Infinity / NaN
 * tokens included) into a plain object, and writing one back the way transformers' strict float
 * fields expect. What the fields mean belongs to the model (model/config.ts).
 */
import * as fs from "fs";
import { CheckpointError } from "./errors";
import { parseJsonWithNonFinite } from "./json-scan";

/** The JSON object of a config.json text; `file` names it in errors. */
export function parseConfigJson(text: string, file = "config.json"): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = parseJsonWithNonFinite(text);
  } catch (e) {
    throw new CheckpointError("invalid-json", `${file}: not valid JSON (${(e as Error).message})`, { file });
  }
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
    throw new CheckpointError("invalid-json", `${file}: expected a JSON object`, { file });
  }
  return raw as Record<string, unknown>;
}

export function readConfigJson(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new CheckpointError("not-found", `${file}: cannot read config (${(e as NodeJS.ErrnoException).code ?? e})`, { file });
  }
  return parseConfigJson(text, file);
}

/** Fields transformers' NemotronHConfig types as float: written with a decimal point (0.0, not 0). */
const FLOAT_FIELDS = new Set(["time_step_limit", "time_step_min", "time_step_max", "time_step_floor", "layer_norm_epsilon",
  "initializer_range", "hidden_dropout", "attention_dropout", "routed_scaling_factor"]);

/**
 * config.json text as Python's json writes it, which the real files (and transformers'
 * strict float fields) expect: bare Infinity, and floats keep their ".0".
 */
export function configJsonText(config: Record<string, unknown>): string {
  const mark = (v: unknown): unknown => {
    if (v === Infinity) return "__NUM__Infinity";
    if (v === -Infinity) return "__NUM__-Infinity";
    if (typeof v === "number" && Number.isInteger(v)) return `__NUM__${v}.0`;
    return v;
  };
  const text = JSON.stringify(config, function (key, v) {
    if (v === Infinity || v === -Infinity) return mark(v);
    if (FLOAT_FIELDS.has(key)) return Array.isArray(v) ? v.map(mark) : mark(v);
    return v;
  }, 2);
  return text.replace(/"__NUM__([^"]*)"/g, "$1") + "\n";
}
