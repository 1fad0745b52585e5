/** NumPy .npy (format 1.0) read/write for float32/float64/int arrays: logits in and out. */
import * as fs from "fs";
import { UserError } from "../util/errors";

const DESCR: Record<string, string> = { float32: "<f4", float64: "<f8", int32: "<i4", int64: "<i8" };

export function npyBytes(data: Float32Array | Float64Array | Int32Array, shape: number[]): Buffer {
  const descr = data instanceof Float32Array ? DESCR.float32 : data instanceof Float64Array ? DESCR.float64 : DESCR.int32;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
  const total = 10 + header.length + 1;
  header += " ".repeat((64 - (total % 64)) % 64) + "\n";
  const head = Buffer.alloc(10);
  head.write("\x93NUMPY", 0, "latin1");
  head[6] = 1; head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, "latin1"), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

export function writeNpy(file: string, data: Float32Array | Float64Array | Int32Array, shape: number[]): void {
  fs.writeFileSync(file, npyBytes(data, shape));
}

export function readNpy(file: string): { shape: number[]; data: Float32Array | Float64Array | Int32Array | BigInt64Array } {
  const buf = fs.readFileSync(file);
  if (buf.toString("latin1", 0, 6) !== "\x93NUMPY") throw new UserError(`${file}: not a .npy file`);
  const major = buf[6];
  const hlen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString("latin1", start, start + hlen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? "").split(",").map((s) => s.trim()).filter(Boolean).map(Number);
  if (/'fortran_order':\s*True/.test(header)) throw new UserError(`${file}: Fortran-order arrays are not supported`);
  const body = buf.subarray(start + hlen);
  const copy = new Uint8Array(body).buffer;
  switch (descr) {
    case "<f4": return { shape, data: new Float32Array(copy) };
    case "<f8": return { shape, data: new Float64Array(copy) };
    case "<i4": return { shape, data: new Int32Array(copy) };
    case "<i8": return { shape, data: new BigInt64Array(copy) };
    default: throw new UserError(`${file}: unsupported dtype ${descr}`);
  }
}
