/**
 * safetensors reading: the header is parsed and validated here, once, at the boundary
 * (sizes, dtypes, offsets, overlaps, duplicates); tensor bytes are then mapped lazily by
 * the native addon. Written by hand because there is no maintained safetensors package
 * for Node; the checks follow the safetensors crate's.
 */
import * as fs from "fs";
import { DType, DTYPE_SIZE, isDType } from "../tensor/dtype";
import { CheckpointError } from "./errors";
import { duplicateTopLevelKeys } from "./json-scan";

/** The safetensors crate refuses headers over 100 MB; so do we. */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorEntry {
  name: string;
  dtype: DType;
  shape: number[];
  /** Absolute byte offset of the tensor's data in the file. */
  offset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  file: string;
  fileSize: number;
  dataStart: number;
  metadata: Record<string, string>;
  tensors: TensorEntry[];
}

function fail(kind: ConstructorParameters<typeof CheckpointError>[0], file: string, msg: string, tensor?: string): never {
  throw new CheckpointError(kind, `${file}: ${tensor ? `tensor '${tensor}': ` : ""}${msg}`, { file, tensor });
}

function readExactly(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return buf.subarray(0, done);
}

export function readSafetensorsHeader(file: string): SafetensorsHeader {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    fail(code === "ENOENT" ? "not-found" : "io", file, `cannot open (${code ?? String(e)})`);
  }
  try {
    const fileSize = fs.fstatSync(fd).size;
    if (fileSize < 8) fail("header-too-small", file, `file is ${fileSize} bytes, shorter than the 8-byte header length`);
    const lenBuf = readExactly(fd, 8, 0);
    const headerLen = lenBuf.readBigUInt64LE(0);
    if (headerLen > BigInt(MAX_HEADER_BYTES)) {
      fail("header-too-large", file, `header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
    }
    const n = Number(headerLen);
    if (8 + n > fileSize) {
      fail("header-too-large", file, `header length ${n} runs past the end of the file (${fileSize} bytes)`);
    }
    const text = readExactly(fd, n, 8).toString("utf8");
    return parseHeader(file, fileSize, 8 + n, text);
  } finally {
    fs.closeSync(fd);
  }
}

export function parseHeader(file: string, fileSize: number, dataStart: number, text: string): SafetensorsHeader {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail("invalid-json", file, `header is not valid JSON (${(e as Error).message})`);
  }
  if (!json || typeof json !== "object" || Array.isArray(json)) fail("invalid-header", file, "header is not a JSON object");
  const dups = duplicateTopLevelKeys(text);
  if (dups.length) fail("duplicate-tensor", file, `tensor named more than once in the header`, dups[0]);

  const dataSize = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const tensors: TensorEntry[] = [];
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      // The format says string to string; the safetensors crate rejects anything else.
      if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
        fail("invalid-metadata", file, `'__metadata__' must be an object of string values, got ${JSON.stringify(raw)}`);
      }
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== "string") {
          fail("invalid-metadata", file, `'__metadata__' value of '${k}' must be a string, got ${JSON.stringify(v)}`);
        }
        metadata[k] = v;
      }
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!e || typeof e !== "object") fail("invalid-header", file, "entry is not an object", name);
    if (typeof e.dtype !== "string") fail("invalid-header", file, "missing 'dtype'", name);
    if (!isDType(e.dtype)) {
      fail("unknown-dtype", file, `unknown dtype '${e.dtype}' (expected one of F64 F32 F16 BF16 F8_E4M3 F8_E5M2 I8 I16 I32 I64 U8 BOOL)`, name);
    }
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail("invalid-header", file, "'shape' must be a list of non-negative integers", name);
    }
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail("invalid-header", file, "'data_offsets' must be [begin, end] non-negative integers", name);
    }
    const [begin, end] = off as [number, number];
    if (begin > end || end > dataSize) {
      fail("offset-out-of-bounds", file, `data_offsets [${begin}, ${end}] outside the data section of ${dataSize} bytes`, name);
    }
    const shape = e.shape as number[];
    let count = 1n;
    for (const d of shape) count *= BigInt(d);
    const expected = count * BigInt(DTYPE_SIZE[e.dtype]);
    if (expected !== BigInt(end - begin)) {
      fail("size-mismatch", file,
        `holds ${end - begin} bytes but shape [${shape.join(", ")}] of ${e.dtype} needs ${expected}`, name);
    }
    tensors.push({ name, dtype: e.dtype, shape, offset: dataStart + begin, byteLength: end - begin });
  }
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset || a.byteLength - b.byteLength);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1], cur = sorted[i];
    if (cur.offset < prev.offset + prev.byteLength && cur.byteLength > 0 && prev.byteLength > 0) {
      fail("overlapping-data", file, `bytes overlap those of '${prev.name}'`, cur.name);
    }
  }
  return { file, fileSize, dataStart, metadata, tensors };
}
