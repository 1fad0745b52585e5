/**
 * The bundled tiny models: random NemotronH checkpoints made on first use under models/ in the
 * package and reused after, so `npm start` and the tutorial notebooks need no download.
 * - "tiny": the default make-tiny geometry (M-M*-M), what `npm start` tours;
 * - "tiny-nano": Nemotron-Nano-9B-v2's own 56-layer pattern (27 Mamba, 4 attention, 25 MLP)
 *   at tiny width, so layer plans and per-layer charts look like the real model's;
 * - "tiny-nano-fp8": the same with FP8 E4M3 linears and per-tensor scales (ModelOpt layout),
 *   standing in for NVIDIA-Nemotron-Nano-9B-v2-FP8.
 * A model is written into a temporary sibling folder and renamed into place, so two kernels
 * making it at once never see half a checkpoint.
 */
import * as fs from "fs";
import * as path from "path";
import { packageRoot } from "../backend/native";
import { makeTiny, TinyOptions } from "./make-tiny";
import { ArgumentError } from "../util/errors";

/** hybrid_override_pattern of NVIDIA-Nemotron-Nano-9B-v2 (docs/model.md section 1). */
export const NANO_V2_PATTERN = "M-M-M-MM-M-M-M*-M-M-M*-M-M-M-M*-M-M-M-M*-M-MM-M-M-M-M-M-";

export const BUNDLED_MODELS = {
  tiny: { seed: 0 },
  "tiny-nano": { seed: 0, pattern: NANO_V2_PATTERN },
  "tiny-nano-fp8": { seed: 0, pattern: NANO_V2_PATTERN, dtype: "f8e4m3" },
} as const satisfies Record<string, TinyOptions>;

export type BundledModel = keyof typeof BUNDLED_MODELS;

/** Where bundled models live: NEMOTRON_LAB_MODELS_DIR, else models/ in the package. */
export function modelsDir(): string {
  return process.env.NEMOTRON_LAB_MODELS_DIR ?? path.join(packageRoot(), "models");
}

/** The folder of a bundled model. */
export function bundledModelDir(name: BundledModel = "tiny"): string {
  if (!(name in BUNDLED_MODELS)) throw new ArgumentError(`no bundled model '${name}'; there are ${Object.keys(BUNDLED_MODELS).join(", ")}`);
  return path.join(modelsDir(), name);
}

/** The folder of a bundled model, made first if it is missing. */
export async function bundledModel(name: BundledModel = "tiny"): Promise<string> {
  const dir = bundledModelDir(name);
  if (fs.existsSync(path.join(dir, "config.json"))) return dir;
  console.log(`making the bundled ${name} model in ${dir} ...`);
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  try {
    await makeTiny(tmp, { ...BUNDLED_MODELS[name] });
    try {
      fs.renameSync(tmp, dir);
    } catch (e) {
      // Someone else finished first: theirs is as good as ours.
      if (!fs.existsSync(path.join(dir, "config.json"))) throw e;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}
