import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { native } from "../src/index";
import { ROOT } from "./helpers";

const ADDON = path.join(ROOT, "native", "build", "Release", "nemotron_lab.node");

describe("the native addon", () => {
  it("loads on a machine without a GPU: CUDA is linked statically and reports its absence instead of failing", () => {
    const cudaRoot = spawnSync(process.execPath, [path.join(ROOT, "native", "find-cuda.js")], { encoding: "utf8" }).stdout;
    const info = native().cudaInfo();
    expect(info.compiled).toBe(cudaRoot !== "");
    if (info.devices === 0) expect(info.error).not.toBe("");
    if (process.platform === "linux") {
      const ldd = spawnSync("ldd", [ADDON], { encoding: "utf8" }).stdout;
      expect(ldd).not.toMatch(/libcuda|libcudart/);  // nothing the dynamic loader must find on a CPU-only machine
    }
  });

  it("readSum, the read-bandwidth probe of the benchmarks, equals its plain loop and a sum in JS", () => {
    const bytes = new Uint8Array((3 << 20) + 13);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    const mask = (1n << 64n) - 1n;
    const jsSum = (b: Uint8Array) => {
      const words = Math.floor(b.length / 8), dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      let s = 0n;
      for (let i = 0; i < words; i++) s = (s + dv.getBigUint64(i * 8, true)) & mask;
      for (let i = words * 8; i < b.length; i++) s = (s + BigInt(b[i])) & mask;
      return s;
    };
    for (const view of [bytes, bytes.subarray(3), bytes.subarray(0, 5)]) {
      const expected = jsSum(view);
      expect(native().readSum(view)).toBe(expected);
      expect(native().readSum(view, true)).toBe(expected);
    }
  });

  it("runs on any thread count and turns C++ checks into JS errors without killing the process", () => {
    const n = native().threads();
    expect(n).toBeGreaterThanOrEqual(1);
    expect(native().setThreads(1)).toBe(1);
    const src = new Uint8Array(1 << 20).fill(7), dst = new Uint8Array(1 << 20);
    native().copyBytes(src, dst);
    expect(dst[12345]).toBe(7);
    expect(native().setThreads(n)).toBe(n);
    expect(() => native().copyBytes(src, new Uint8Array(10))).toThrow(/copyBytes: destination is smaller/);
    expect(() => native().fp8Decode(new Uint8Array(4), 0, 1, new Float32Array(1))).toThrow(/output too small/);
    expect(() => native().mapFile(path.join(ROOT, "no-such-file"))).toThrow(/cannot open .*no-such-file/);
    expect(fs.existsSync(ADDON)).toBe(true);
  });
});
