/**
 * SafetensorsCheckpoint: a folder of safetensors (+ config.json), a single .safetensors file,
 * or a Hugging Face repo id in the local cache, as files: opening reads only headers and the
 * config's JSON; tensor bytes are memory-mapped on first use; FP8 weights are paired with their
 * scale tensor. What the tensors mean (NemotronH's config, tensor names, validation, inventory)
 * is model/checkpoint.ts, which builds on this.
 */
import * as fs from "fs";
import * as path from "path";
import { native } from "../backend/native";
import { Tensor, ScaleInfo } from "../tensor/tensor";
import { isFloat8 } from "../tensor/dtype";
import { formatShape } from "../util/format";
import { globToRegExp } from "../util/glob";
import { CheckpointError } from "./errors";
import { readConfigJson } from "./config-json";
import { SafetensorsHeader, readSafetensorsHeader } from "./safetensors";
import { isRepoId, resolveRepoId } from "./hf-cache";

/** The files of a checkpoint, found from what the user typed. */
export interface CheckpointFiles {
  /** The folder holding the files. */
  dir: string;
  files: string[];
  headers: SafetensorsHeader[];
  /** config.json's object, when the folder has one. */
  configJson?: Record<string, unknown>;
}

/** Finds a checkpoint's files (repo ids through the local HF cache) and reads their headers. */
export function locateCheckpoint(spec: string, revision?: string): CheckpointFiles {
  let target = spec;
  if (!fs.existsSync(spec) && isRepoId(spec)) target = resolveRepoId(spec, revision);
  if (!fs.existsSync(target)) {
    throw new CheckpointError("not-found", `${spec}: no such file or folder (expected a checkpoint folder, a .safetensors file or a repo id ORG/NAME in the local Hugging Face cache)`, { file: spec });
  }
  const stat = fs.statSync(target);
  const dir = stat.isDirectory() ? target : path.dirname(target);
  const files = stat.isDirectory() ? shardFiles(target) : [target];
  const configFile = path.join(dir, "config.json");
  const configJson = fs.existsSync(configFile) ? readConfigJson(configFile) : undefined;
  return { dir, files, headers: files.map(readSafetensorsHeader), configJson };
}

/** How the checkpoint stores its weights, detected from config.json and headers. */
export type WeightFormat =
  | "dense"                   // no FP8 tensors
  | "fp8-modelopt"            // hf_quant_config.json / quant_method modelopt, weight_scale (+ input_scale)
  | "fp8-compressed-tensors"  // quantization_config.quant_method compressed-tensors
  | "fp8-block"               // weight_scale_inv with weight_block_size (DeepSeek style)
  | "fp8-scaled"              // FP8 with weight_scale but no declared method
  | "fp8-bare";               // FP8 weights with no scale at all

export class SafetensorsCheckpoint {
  readonly tensors = new Map<string, Tensor>();
  readonly dir: string;
  readonly files: string[];
  readonly headers: SafetensorsHeader[];
  readonly configJson: Record<string, unknown> | undefined;
  private readonly maps = new Map<string, { handle: object; size: number }>();

  constructor(located: CheckpointFiles) {
    this.dir = located.dir;
    this.files = located.files;
    this.headers = located.headers;
    this.configJson = located.configJson;
    this.index();
  }

  static open(spec: string, options: { revision?: string } = {}): SafetensorsCheckpoint {
    return new SafetensorsCheckpoint(locateCheckpoint(spec, options.revision));
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  /** Other names a tensor may be stored under (a model family's aliases; none here). */
  protected aliases(name: string): string[] {
    return [name];
  }

  has(name: string): boolean {
    return this.aliases(name).some((n) => this.tensors.has(n));
  }

  /** The tensor of that name (or of one of its aliases). */
  tensor(name: string): Tensor {
    for (const n of this.aliases(name)) {
      const t = this.tensors.get(n);
      if (t) return t;
    }
    const near = this.names().filter((n) => n.includes(name.split(".").slice(-2).join("."))).slice(0, 5);
    throw new CheckpointError("tensor-not-found",
      `${this.dir}: no tensor '${name}'` + (near.length ? `; similar: ${near.join(", ")}` : ""), { file: this.dir, tensor: name });
  }

  /**
   * Tensors whose name, or module path (the name without its last segment, so
   * `backbone.layers.*.mixer.in_proj` finds the in_proj weights), matches a glob.
   */
  find(pattern: string): Tensor[] {
    const re = globToRegExp(pattern);
    return this.names().filter((n) => re.test(n) || re.test(n.slice(0, n.lastIndexOf(".")))).map((n) => this.tensors.get(n)!);
  }

  /** The format of the weights (FP8 flavours are told apart by config and scale names). */
  get weightFormat(): WeightFormat {
    const fp8 = [...this.tensors.values()].filter((t) => isFloat8(t.dtype));
    if (!fp8.length) return "dense";
    const q = (this.configJson?.quantization_config ?? {}) as Record<string, unknown>;
    const method = String(q.quant_method ?? "");
    if (fs.existsSync(path.join(this.dir, "hf_quant_config.json")) || method === "modelopt") return "fp8-modelopt";
    if (method === "compressed-tensors") return "fp8-compressed-tensors";
    if (fp8.some((t) => t.scale && t.scale.tensor.name.endsWith("_scale_inv"))) return "fp8-block";
    if (fp8.some((t) => t.scale)) return "fp8-scaled";
    return "fp8-bare";
  }

  toString(): string {
    return `SafetensorsCheckpoint(${this.dir}, ${this.tensors.size} tensors)`;
  }

  /**
   * Starts reading every file in the background, front to back (native read-ahead: pages read
   * and mapped before a first pass needs them, instead of a page fault every few pages then).
   * Returns how far it got, as a fraction of the bytes, whenever asked.
   */
  readAhead(): { progress(): number } {
    const maps = this.headers.map((h) => this.mapping(h.file));
    const total = maps.reduce((a, m) => a + m.size, 0);
    for (const m of maps) native().mapReadAhead(m.handle);
    return { progress: () => (total ? maps.reduce((a, m) => a + native().mapReadAhead(m.handle), 0) / total : 1) };
  }

  /** A zero-copy view of bytes of a file, mapped once on first use. */
  private view(file: string, offset: number, length: number): Uint8Array {
    return new Uint8Array(native().mapView(this.mapping(file).handle, offset, length));
  }

  private mapping(file: string): { handle: object; size: number } {
    let m = this.maps.get(file);
    if (!m) {
      m = native().mapFile(file);
      this.maps.set(file, m);
    }
    return m;
  }

  private index(): void {
    for (const h of this.headers) {
      for (const e of h.tensors) {
        if (this.tensors.has(e.name)) {
          const other = this.tensors.get(e.name)!.file;
          throw new CheckpointError("duplicate-tensor", `${h.file}: tensor '${e.name}' is also in ${other}`, { file: h.file, tensor: e.name });
        }
        const file = h.file;
        let bytes: Uint8Array | undefined;  // one view per tensor: V8 allows one external buffer per address
        const t = new Tensor(e.name, e.dtype, e.shape, () => (bytes ??= this.view(file, e.offset, e.byteLength)), file);
        this.tensors.set(e.name, t);
      }
    }
    for (const t of this.tensors.values()) {
      if (isFloat8(t.dtype) && t.name.endsWith(".weight")) t.scale = this.pairScale(t);
    }
  }

  private pairScale(w: Tensor): ScaleInfo | undefined {
    const base = w.name.slice(0, -".weight".length);
    const s = this.tensors.get(`${base}.weight_scale`) ?? this.tensors.get(`${base}.weight_scale_inv`);
    if (!s) return undefined;
    const R = w.rows, C = w.cols;
    const fail = (why: string): never => {
      throw new CheckpointError("invalid-scale", `${s.file}: tensor '${s.name}' of shape ${formatShape(s.shape)} ${why} for weight ${formatShape(w.shape)}`, { file: s.file, tensor: s.name });
    };
    if (s.numel === 1) return { tensor: s, granularity: "tensor", blockRows: R, blockCols: C };
    if (s.numel === R && (s.shape.length === 1 || (s.shape.length === 2 && s.shape[1] === 1))) {
      return { tensor: s, granularity: "row", blockRows: 1, blockCols: C };
    }
    if (s.shape.length !== 2) fail("fits no scale granularity (scalar, per row [R] / [R,1], or 2-D blocks)");
    const [sr, sc] = s.shape;
    const declared = declaredBlockSize(this.configJson?.quantization_config as Record<string, unknown> | undefined);
    const candidates: [number, number][] = [];
    if (Array.isArray(declared) && declared.length === 2) candidates.push([Number(declared[0]), Number(declared[1])]);
    else candidates.push([guessBlock(R, sr), guessBlock(C, sc)]);
    for (const [br, bc] of candidates) {
      if (br > 0 && bc > 0 && Math.ceil(R / br) === sr && Math.ceil(C / bc) === sc) {
        return { tensor: s, granularity: "block", blockRows: br, blockCols: bc };
      }
    }
    return fail(`does not match blocks of ${candidates.map((c) => c.join("x")).join(" or ")}`);
  }
}

/**
 * Block size along a dimension of `size` split into `blocks` scale entries, when the config
 * does not declare weight_block_size: 128 (DeepSeek-V3's) if it fits, else the smallest
 * power of two that fits, else ceil(size / blocks).
 */
function guessBlock(size: number, blocks: number): number {
  if (Math.ceil(size / 128) === blocks) return 128;
  for (let b = 1; b <= size; b *= 2) if (Math.ceil(size / b) === blocks) return b;
  return Math.ceil(size / blocks);
}

/** The safetensors files of a folder: from the index if there is one, else all *.safetensors. */
function shardFiles(dir: string): string[] {
  const indexFile = path.join(dir, "model.safetensors.index.json");
  if (fs.existsSync(indexFile)) {
    let index: { weight_map?: Record<string, string> };
    try {
      index = JSON.parse(fs.readFileSync(indexFile, "utf8"));
    } catch (e) {
      throw new CheckpointError("invalid-json", `${indexFile}: not valid JSON (${(e as Error).message})`, { file: indexFile });
    }
    if (!index.weight_map || typeof index.weight_map !== "object") {
      throw new CheckpointError("invalid-header", `${indexFile}: no 'weight_map' object`, { file: indexFile, field: "weight_map" });
    }
    const shards = [...new Set(Object.values(index.weight_map))];
    for (const s of shards) {
      const f = path.join(dir, s);
      if (!fs.existsSync(f)) {
        const tensor = Object.entries(index.weight_map).find(([, v]) => v === s)![0];
        throw new CheckpointError("missing-shard", `${indexFile}: shard '${s}' (holding '${tensor}' and others) is missing from ${dir}`, { file: f, tensor });
      }
    }
    return shards.map((s) => path.join(dir, s));
  }
  const single = path.join(dir, "model.safetensors");
  if (fs.existsSync(single)) return [single];
  const all = fs.readdirSync(dir).filter((f) => f.endsWith(".safetensors")).sort();
  if (!all.length) {
    throw new CheckpointError("not-found", `${dir}: no model.safetensors, model.safetensors.index.json or *.safetensors files`, { file: dir });
  }
  return all.map((f) => path.join(dir, f));
}

/**
 * The 2-D scale block size a quantization_config declares: DeepSeek-style
 * `weight_block_size`, or compressed-tensors' `config_groups.*.weights.block_structure`.
 */
export function declaredBlockSize(q: Record<string, unknown> | undefined): unknown {
  if (!q) return undefined;
  if (q.weight_block_size !== undefined) return q.weight_block_size;
  const groups = q.config_groups as Record<string, { weights?: { block_structure?: unknown } }> | undefined;
  for (const g of Object.values(groups ?? {})) if (Array.isArray(g?.weights?.block_structure)) return g.weights!.block_structure;
  return undefined;
}
