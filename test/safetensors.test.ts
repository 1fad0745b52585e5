import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { Checkpoint, CheckpointError, CheckpointErrorKind, SafetensorsWriter, readSafetensorsHeader, Tensor } from "../src/index";
import { tempDir } from "./helpers";

/** A safetensors file from a raw header text and data section. */
function rawFile(dir: string, header: string, dataBytes = 0, name = "model.safetensors", lengthOverride?: bigint): string {
  const h = Buffer.from(header, "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthOverride ?? BigInt(h.length));
  const f = path.join(dir, name);
  fs.writeFileSync(f, Buffer.concat([len, h, Buffer.alloc(dataBytes)]));
  return f;
}

function expectKind(fn: () => unknown, kind: CheckpointErrorKind, mention: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    expect((e as CheckpointError).kind).toBe(kind);
    expect((e as Error).message).toMatch(mention);
    return;
  }
  throw new Error(`expected a CheckpointError of kind ${kind}`);
}

describe("safetensors reading: one error per kind, naming file and tensor", () => {
  const dir = tempDir();
  it("header-too-small", () => {
    const f = path.join(dir, "short.safetensors");
    fs.writeFileSync(f, Buffer.alloc(5));
    expectKind(() => readSafetensorsHeader(f), "header-too-small", /short\.safetensors.*8-byte/);
  });
  it("header length past the end of the file", () => {
    const f = rawFile(dir, "{}", 0, "past.safetensors", 1000n);
    expectKind(() => readSafetensorsHeader(f), "header-too-large", /past\.safetensors.*past the end/);
  });
  it("header over the size limit", () => {
    const f = rawFile(dir, "{}", 0, "huge.safetensors", 1n << 40n);
    expectKind(() => readSafetensorsHeader(f), "header-too-large", /limit/);
  });
  it("invalid JSON", () => {
    const f = rawFile(dir, '{"a": ', 0, "json.safetensors");
    expectKind(() => readSafetensorsHeader(f), "invalid-json", /json\.safetensors.*not valid JSON/);
  });
  it("malformed entry", () => {
    const f = rawFile(dir, '{"w": {"dtype": "F32", "shape": [2]}}', 8, "entry.safetensors");
    expectKind(() => readSafetensorsHeader(f), "invalid-header", /'w'.*data_offsets/);
  });
  it("__metadata__ that is not string to string", () => {
    const f = rawFile(dir, '{"__metadata__": {"format": "pt", "x": [1]}}', 0, "meta.safetensors");
    expectKind(() => readSafetensorsHeader(f), "invalid-metadata", /meta\.safetensors.*'__metadata__'.*'x'.*string.*\[1\]/);
    const g = rawFile(dir, '{"__metadata__": ["pt"]}', 0, "meta-list.safetensors");
    expectKind(() => readSafetensorsHeader(g), "invalid-metadata", /meta-list\.safetensors.*'__metadata__'.*object/);
    const ok = rawFile(dir, '{"__metadata__": {"format": "pt"}}', 0, "meta-ok.safetensors");
    expect(readSafetensorsHeader(ok).metadata).toEqual({ format: "pt" });
  });
  it("unknown dtype", () => {
    const f = rawFile(dir, '{"w": {"dtype": "F4", "shape": [2], "data_offsets": [0, 1]}}', 1, "dtype.safetensors");
    expectKind(() => readSafetensorsHeader(f), "unknown-dtype", /'w'.*unknown dtype 'F4'/);
  });
  it("offsets out of bounds", () => {
    const f = rawFile(dir, '{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}', 8, "oob.safetensors");
    expectKind(() => readSafetensorsHeader(f), "offset-out-of-bounds", /'w'.*\[0, 16\].*8 bytes/);
  });
  it("byte length differs from shape x dtype size", () => {
    const f = rawFile(dir, '{"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}', 8, "size.safetensors");
    expectKind(() => readSafetensorsHeader(f), "size-mismatch", /'w'.*8 bytes.*needs 12/);
  });
  it("overlapping tensors", () => {
    const f = rawFile(dir, '{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}', 12, "overlap.safetensors");
    expectKind(() => readSafetensorsHeader(f), "overlapping-data", /'b'.*overlap.*'a'/);
  });
  it("duplicate names in one header", () => {
    const f = rawFile(dir, '{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, "a": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}', 2, "dup.safetensors");
    expectKind(() => readSafetensorsHeader(f), "duplicate-tensor", /'a'/);
  });
  it("duplicate names across shards, and a missing shard", async () => {
    const d = tempDir();
    rawFile(d, '{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}', 1, "one.safetensors");
    rawFile(d, '{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}', 1, "two.safetensors");
    expectKind(() => Checkpoint.open(d), "duplicate-tensor", /'a'.*also in/);
    fs.writeFileSync(path.join(d, "model.safetensors.index.json"), JSON.stringify({ weight_map: { a: "one.safetensors", b: "gone.safetensors" } }));
    expectKind(() => Checkpoint.open(d), "missing-shard", /gone\.safetensors.*'b'/);
  });
  it("a tensor that is not in the checkpoint, with the names that look alike", async () => {
    const d = tempDir();
    await new SafetensorsWriter(d).add("backbone.layers.0.mixer.in_proj.weight", "F32", [2], () => new Float32Array(2)).write();
    expectKind(() => Checkpoint.open(d).tensor("backbone.layers.1.mixer.in_proj.weight"), "tensor-not-found",
      /no tensor 'backbone\.layers\.1\.mixer\.in_proj\.weight'; similar: backbone\.layers\.0\.mixer\.in_proj\.weight/);
  });
  it("a path that does not exist", () => {
    expectKind(() => Checkpoint.open(path.join(dir, "nothing-here")), "not-found", /nothing-here/);
  });
});

describe("SafetensorsWriter", () => {
  it("round-trips tensors of every dtype, byte for byte, and the safetensors layout is 8-byte aligned", async () => {
    const d = tempDir();
    const data: Record<string, { dtype: "F32" | "BF16" | "U8" | "I64" | "F8_E4M3"; shape: number[]; bytes: Uint8Array }> = {
      a: { dtype: "F32", shape: [2, 3], bytes: new Uint8Array(new Float32Array([1, 2, 3, 4, 5, -6]).buffer) },
      b: { dtype: "U8", shape: [3], bytes: Uint8Array.of(7, 8, 9) },
      c: { dtype: "BF16", shape: [2], bytes: new Uint8Array(new Uint16Array([0x3f80, 0xc000]).buffer) },
      d: { dtype: "I64", shape: [1], bytes: new Uint8Array(new BigInt64Array([-5n]).buffer) },
      e: { dtype: "F8_E4M3", shape: [2, 2], bytes: Uint8Array.of(0x38, 0x40, 0xb8, 0x7e) },
    };
    const w = new SafetensorsWriter(d, { metadata: { format: "pt" } });
    for (const [name, t] of Object.entries(data)) w.add(name, t.dtype, t.shape, () => t.bytes);
    await w.write();
    const h = readSafetensorsHeader(path.join(d, "model.safetensors"));
    expect(h.dataStart % 8).toBe(0);
    expect(h.metadata).toEqual({ format: "pt" });
    const ck = Checkpoint.open(d);
    for (const [name, t] of Object.entries(data)) {
      const r = ck.tensor(name);
      expect(r.dtype).toBe(t.dtype);
      expect(r.shape).toEqual(t.shape);
      expect([...r.bytes()]).toEqual([...t.bytes]);
    }
    expect([...ck.tensor("a").values()]).toEqual([1, 2, 3, 4, 5, -6]);
    expect([...ck.tensor("c").values()]).toEqual([1, -2]);
    expect([...ck.tensor("e").values()]).toEqual([1, 2, -1, 448]);
  });

  it("shards with an index file that Checkpoint.open follows", async () => {
    const d = tempDir();
    const w = new SafetensorsWriter(d, { maxShardBytes: 100 });
    for (let i = 0; i < 5; i++) w.add(`t${i}`, "F32", [16], () => new Float32Array(16).fill(i));
    const files = await w.write();
    expect(files.filter((f) => f.endsWith(".safetensors")).length).toBe(5);
    const index = JSON.parse(fs.readFileSync(path.join(d, "model.safetensors.index.json"), "utf8"));
    expect(index.metadata.total_size).toBe(5 * 64);
    expect(index.weight_map.t3).toBe("model-00004-of-00005.safetensors");
    const ck = Checkpoint.open(d);
    expect(ck.files.length).toBe(5);
    expect(ck.tensor("t3").values()[0]).toBe(3);
  });

  it("rejects a producer that returns the wrong number of bytes, and removes the partial file", async () => {
    const d = tempDir();
    const w = new SafetensorsWriter(d).add("x", "F32", [4], () => new Float32Array(3));
    await expect(w.write()).rejects.toThrow(/'x' produced 12 bytes.*needs 16/);
    expect(fs.existsSync(path.join(d, "model.safetensors"))).toBe(false);
  });

  it("stops between tensors when its signal aborts", async () => {
    const d = tempDir();
    const ac = new AbortController();
    const w = new SafetensorsWriter(d, { signal: ac.signal });
    w.add("a", "U8", [1], () => { ac.abort(); return Uint8Array.of(1); }).add("b", "U8", [1], () => Uint8Array.of(2));
    await expect(w.write()).rejects.toThrow();
    expect(fs.existsSync(path.join(d, "model.safetensors"))).toBe(false);
  });

  it("opens lazily: a sparse 6 GiB file opens without reading its data, tensors past 4 GiB included", async () => {
    const d = tempDir();
    const w = new SafetensorsWriter(d, { headersOnly: true });
    w.add("big.0", "BF16", [49152, 32768], () => new Uint8Array(0)).add("big.1", "BF16", [49152, 32768], () => new Uint8Array(0));
    await w.write();
    const before = process.memoryUsage().rss;
    const ck = Checkpoint.open(d);
    const t = ck.tensor("big.1");
    expect(t.nbytes).toBe(3 * 2 ** 30);
    expect(t.row(12345).every((v) => v === 0)).toBe(true);  // touches one 64 KiB row only
    expect(process.memoryUsage().rss - before).toBeLessThan(256 * 2 ** 20);
  });

  it("in-memory tensors check their byte count", () => {
    expect(() => Tensor.fromArray("x", new Float32Array(3), [2, 2])).toThrow(/'x'.*12 bytes.*\[2, 2\]/);
  });
});
