// Checkpoint read-ahead (native MappedFile::read_ahead through SafetensorsCheckpoint.readAhead):
// a first pass over weights read ahead pays (almost) no page faults, where the same pass over
// a fresh mapping faults its pages in one by one, and the progress reaches 1.
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { native, SafetensorsCheckpoint } from "../src/index";
import { tempDir } from "./helpers";

const TENSORS = 4, ROWS = 2048, COLS = 8192;  // 4 × 32 MiB of BF16

function writeCheckpoint(dir: string): void {
  const bytes = ROWS * COLS * 2, header: Record<string, unknown> = {};
  for (let i = 0; i < TENSORS; i++) header[`w${i}`] = { dtype: "BF16", shape: [ROWS, COLS], data_offsets: [i * bytes, (i + 1) * bytes] };
  const h = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  const fd = fs.openSync(path.join(dir, "model.safetensors"), "w");
  fs.writeSync(fd, Buffer.concat([len, h]));
  const chunk = Buffer.alloc(bytes, 0x3f);
  for (let i = 0; i < TENSORS; i++) fs.writeSync(fd, chunk);
  fs.closeSync(fd);
}

/** Minor page faults of one pass that reads every byte of every tensor. */
function faultsOfFirstPass(ckpt: SafetensorsCheckpoint): number {
  const views = ckpt.names().map((n) => ckpt.tensor(n).bytes());  // mapping only: nothing read yet
  const before = process.resourceUsage().minorPageFault;
  for (const v of views) native().readSum(v);
  return process.resourceUsage().minorPageFault - before;
}

describe("checkpoint read-ahead", () => {
  it.skipIf(process.platform !== "linux")("maps and reads the files in the background, so a first pass does not fault its pages in", async () => {
    const dir = tempDir("read-ahead-");
    writeCheckpoint(dir);
    const cold = faultsOfFirstPass(SafetensorsCheckpoint.open(dir));
    const ckpt = SafetensorsCheckpoint.open(dir);
    const ra = ckpt.readAhead();
    for (let i = 0; i < 500 && ra.progress() < 1; i++) await new Promise((r) => setTimeout(r, 20));
    expect(ra.progress()).toBe(1);
    const warm = faultsOfFirstPass(ckpt);
    // Pages are mapped a fault-around window (or a large folio) at a time: tens to thousands
    // of faults for 128 MiB cold; read ahead, only stray faults of other threads remain.
    console.log(`read-ahead: ${cold} minor faults in a cold first pass over 128 MiB, ${warm} after read-ahead`);
    expect(cold).toBeGreaterThan(20);
    expect(warm).toBeLessThan(cold / 4);
  });

});
