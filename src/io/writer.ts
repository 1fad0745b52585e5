/**
 * Streaming safetensors writer: tensors are declared first (so every header can be
 * written up front) and their bytes produced one at a time when the files are written,
 * so the whole model is never in memory. Optional sharding with
 * model.safetensors.index.json, like transformers' save_pretrained.
 */
import * as fs from "fs";
import * as path from "path";
import { DType, DTYPE_SIZE } from "../tensor/dtype";
import { formatShape } from "../util/format";
import { progress } from "../util/progress";
import { abortError } from "../util/cancel";

export type TensorProducer = () => Uint8Array | ArrayBufferView | Promise<Uint8Array | ArrayBufferView>;

interface Planned {
  name: string;
  dtype: DType;
  shape: number[];
  nbytes: number;
  produce: TensorProducer;
}

export interface WriterOptions {
  /** Start a new shard when a shard would exceed this many bytes (default: one file). */
  maxShardBytes?: number;
  /** String metadata stored under __metadata__ (e.g. {"format": "pt"}). */
  metadata?: Record<string, string>;
  /** Cancels the write between tensors; partial files are removed. */
  signal?: AbortSignal;
  /** Write headers only and extend files to their full size (sparse): for benchmarks of opening. */
  headersOnly?: boolean;
  /** Label of the progress display. */
  label?: string;
}

export class SafetensorsWriter {
  private readonly planned: Planned[] = [];
  private readonly names = new Set<string>();

  constructor(readonly dir: string, readonly options: WriterOptions = {}) {}

  /** Declares a tensor; its bytes are asked for when write() reaches it. */
  add(name: string, dtype: DType, shape: number[], produce: TensorProducer): this {
    if (this.names.has(name)) throw new Error(`SafetensorsWriter: tensor '${name}' added twice`);
    const numel = shape.reduce((a, b) => a * b, 1);
    this.names.add(name);
    this.planned.push({ name, dtype, shape: [...shape], nbytes: numel * DTYPE_SIZE[dtype], produce });
    return this;
  }

  get totalBytes(): number {
    return this.planned.reduce((a, p) => a + p.nbytes, 0);
  }

  /** Writes the file(s); returns their paths. */
  async write(): Promise<string[]> {
    fs.mkdirSync(this.dir, { recursive: true });
    const shards = this.split();
    const names = shards.length === 1 ? ["model.safetensors"]
      : shards.map((_, i) => `model-${String(i + 1).padStart(5, "0")}-of-${String(shards.length).padStart(5, "0")}.safetensors`);
    const written: string[] = [];
    const bar = progress(this.options.label ?? `writing ${this.dir}`, this.totalBytes);
    let done = 0;
    try {
      for (let s = 0; s < shards.length; s++) {
        const file = path.join(this.dir, names[s]);
        written.push(file);
        await this.writeShard(file, shards[s], (n) => { done += n; bar.update(done); });
      }
      if (shards.length > 1) {
        const weightMap: Record<string, string> = {};
        shards.forEach((sh, i) => sh.forEach((p) => (weightMap[p.name] = names[i])));
        const index = { metadata: { total_size: this.totalBytes }, weight_map: weightMap };
        const f = path.join(this.dir, "model.safetensors.index.json");
        fs.writeFileSync(f, JSON.stringify(index, null, 2) + "\n");
        written.push(f);
      }
    } catch (e) {
      for (const f of written) fs.rmSync(f, { force: true });
      throw e;
    } finally {
      bar.finish();
    }
    return written;
  }

  private split(): Planned[][] {
    const max = this.options.maxShardBytes ?? Infinity;
    const shards: Planned[][] = [[]];
    let size = 0;
    for (const p of this.planned) {
      if (size > 0 && size + p.nbytes > max) { shards.push([]); size = 0; }
      shards[shards.length - 1].push(p);
      size += p.nbytes;
    }
    return shards;
  }

  private async writeShard(file: string, tensors: Planned[], onBytes: (n: number) => void): Promise<void> {
    const header: Record<string, unknown> = {};
    if (this.options.metadata) header.__metadata__ = this.options.metadata;
    let offset = 0;
    for (const p of tensors) {
      header[p.name] = { dtype: p.dtype, shape: p.shape, data_offsets: [offset, offset + p.nbytes] };
      offset += p.nbytes;
    }
    let json = JSON.stringify(header);
    json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);  // data starts 8-byte aligned
    const head = Buffer.alloc(8 + Buffer.byteLength(json));
    head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
    head.write(json, 8, "utf8");
    const fd = fs.openSync(file, "w");
    try {
      fs.writeSync(fd, head);
      if (this.options.headersOnly) {
        fs.ftruncateSync(fd, head.length + offset);
        return;
      }
      for (const p of tensors) {
        if (this.options.signal?.aborted) throw abortError(this.options.signal);
        const data = await p.produce();
        if (data.byteLength !== p.nbytes) {
          throw new Error(`SafetensorsWriter: tensor '${p.name}' produced ${data.byteLength} bytes, ${p.dtype} ${formatShape(p.shape)} needs ${p.nbytes}`);
        }
        const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
        let w = 0;
        while (w < bytes.length) w += fs.writeSync(fd, bytes, w, Math.min(bytes.length - w, 1 << 26));
        onBytes(p.nbytes);
      }
    } finally {
      fs.closeSync(fd);
    }
  }
}
