/**
 * The bundled models, so `npm start` and the tutorial notebooks need no download:
 * - "nano-fortunes" (the default): a NemotronH with Nemotron-Nano-9B-v2's own 56-layer pattern
 *   (27 Mamba-2, 4 attention, 25 MLP) at small width, trained on fortune cookies and Debian
 *   documentation in five languages (tools/train/, model card in models/nano-fortunes/README.md).
 *   It ships in the package, BF16;
 * - "nano-fortunes-fp8": its FP8 twin in NVIDIA's official layout (nvidia-fp8 preset: E4M3
 *   weights with per-tensor scales, static input scales calibrated on a few sentences, ModelOpt
 *   files), made by our quantizer on first use, standing in for NVIDIA-Nemotron-Nano-9B-v2-FP8;
 * - "tiny", "tiny-nano", "tiny-nano-fp8": random make-tiny checkpoints (M-M*-M; the 9B pattern;
 *   the same with FP8 E4M3 linears and per-tensor scales) for tests and for shapes the trained
 *   model does not cover.
 * A made model is written into a temporary sibling folder and renamed into place, so two
 * kernels making it at once never see half a checkpoint.
 */
import * as fs from "fs";
import * as path from "path";
import { packageRoot } from "../backend/native";
import { makeTiny, TinyOptions } from "./make-tiny";
import { NemotronH } from "../model/nemotron-h";
import { TextTokenizer } from "../text/tokenizer";
import { quantizeModel } from "../quant/session";
import { exportSession } from "../quant/export";
import { ArgumentError } from "../util/errors";

/** hybrid_override_pattern of NVIDIA-Nemotron-Nano-9B-v2 (docs/model.md section 1). */
export const NANO_V2_PATTERN = "M-M-M-MM-M-M-M*-M-M-M*-M-M-M-M*-M-M-M-M*-M-MM-M-M-M-M-M-";

/** The trained model's folder name; it is tracked in git under models/ in the package. */
export const TRAINED_MODEL = "nano-fortunes" satisfies BundledModel;

/** Sentences the FP8 twin's static input scales are calibrated on (one per training language). */
export const FP8_CALIBRATION = [
  "The best way to predict the future is to invent it.",
  "Wer nicht wagt, der nicht gewinnt.",
  "No hay mal que por bien no venga.",
  "Chi va piano va sano e va lontano.",
  "Debian est un système d'exploitation libre.",
];

type BundledSpec =
  | { kind: "shipped" }
  | { kind: "fp8-of"; source: string; layers: string }
  | { kind: "tiny"; options: TinyOptions };

export const BUNDLED_MODELS = {
  "nano-fortunes": { kind: "shipped" },
  "nano-fortunes-fp8": { kind: "fp8-of", source: "nano-fortunes", layers: "nvidia-fp8" },
  tiny: { kind: "tiny", options: { seed: 0 } },
  "tiny-nano": { kind: "tiny", options: { seed: 0, pattern: NANO_V2_PATTERN } },
  "tiny-nano-fp8": { kind: "tiny", options: { seed: 0, pattern: NANO_V2_PATTERN, dtype: "f8e4m3" } },
} as const satisfies Record<string, BundledSpec>;

export type BundledModel = keyof typeof BUNDLED_MODELS;

/** Where made bundled models live: NEMOTRON_LAB_MODELS_DIR, else models/ in the package. */
export function modelsDir(): string {
  return process.env.NEMOTRON_LAB_MODELS_DIR ?? path.join(packageRoot(), "models");
}

function spec(name: string): BundledSpec {
  if (!Object.prototype.hasOwnProperty.call(BUNDLED_MODELS, name)) {
    throw new ArgumentError(`no bundled model '${name}'; there are ${Object.keys(BUNDLED_MODELS).join(", ")}`);
  }
  return BUNDLED_MODELS[name as BundledModel];
}

/** The folder of a bundled model (the shipped one always in the package). */
export function bundledModelDir(name: BundledModel = TRAINED_MODEL): string {
  return spec(name).kind === "shipped" ? path.join(packageRoot(), "models", name) : path.join(modelsDir(), name);
}

/** The folder of a bundled model, made first if it is missing. Default: the trained model. */
export async function bundledModel(name: BundledModel = TRAINED_MODEL): Promise<string> {
  const s = spec(name);
  const dir = bundledModelDir(name);
  if (fs.existsSync(path.join(dir, "config.json"))) return dir;
  if (s.kind === "shipped") throw new Error(`the bundled ${name} model is missing from ${dir} (it ships with the package; reinstall it)`);
  console.log(`making the bundled ${name} model in ${dir} ...`);
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  try {
    if (s.kind === "tiny") await makeTiny(tmp, { ...s.options });
    else await makeFp8Twin(await bundledModel(s.source as BundledModel), tmp, s.layers);
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

/** What `nemotron-lab quantize SRC --layers LAYERS --out DIR --export modelopt --calibrate ...` does. */
async function makeFp8Twin(source: string, out: string, layers: string): Promise<void> {
  const tok = TextTokenizer.load(source);
  const session = quantizeModel(NemotronH.load(source), {
    layers, activations: { mode: "static", prompts: FP8_CALIBRATION.map((t) => tok.encode(t)) },
  });
  await exportSession(session, source, out, { export: "modelopt" });
}
