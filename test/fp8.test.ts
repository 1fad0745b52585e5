import * as fs from "fs";
import { describe, expect, it } from "vitest";
import { decodeFp8, decodeFp8Reference, encodeFp8, encodeFp8From, encodeFp8Reference, Fp8Format, Tensor } from "../src/index";
import { all16, fixture } from "./helpers";

const FORMATS: Fp8Format[] = ["e4m3", "e5m2"];

function firstMismatch(a: Uint8Array, b: Uint8Array): string {
  const i = a.findIndex((x, k) => x !== b[k]);
  return i < 0 ? "none" : `index ${i}: ${a[i]} vs ${b[i]}`;
}

describe("FP8 codec", () => {
  for (const kind of ["bf16", "f16"] as const) {
    for (const format of FORMATS) {
      for (const saturate of [true, false]) {
        it(`encodes every ${kind} pattern to ${format} (saturate ${saturate}) like the reference, via f32 and via ${kind} bits`, () => {
          const { bits, values } = all16(kind);
          const ref = encodeFp8Reference(values, format, { saturate });
          const fast = encodeFp8(values, format, { saturate });
          const direct = encodeFp8From(bits, kind === "bf16" ? "BF16" : "F16", format, { saturate });
          expect(firstMismatch(fast, ref)).toBe("none");
          expect(firstMismatch(direct, ref)).toBe("none");
        });
      }
    }
    it(`matches ml_dtypes (non-saturating) on every ${kind} pattern`, () => {
      const { values } = all16(kind);
      for (const format of FORMATS) {
        const golden = new Uint8Array(fs.readFileSync(fixture("fp8", `${kind}_${format}_mldtypes.bin`)));
        expect(firstMismatch(encodeFp8(values, format, { saturate: false }), golden)).toBe("none");
      }
    });
    it(`matches torch 2.13's saturating float8_e4m3fn on every ${kind} pattern`, () => {
      const { values } = all16(kind);
      const golden = new Uint8Array(fs.readFileSync(fixture("fp8", `${kind}_e4m3_torch.bin`)));
      expect(firstMismatch(encodeFp8(values, "e4m3"), golden)).toBe("none");
    });
  }

  it("matches the reference on random float32 values across the whole range", () => {
    const n = 200_000;
    const x = new Float32Array(n);
    const u = new Uint32Array(x.buffer);
    let s = 12345;
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      // Random bits, biased towards FP8's exponent range so rounding cases are dense.
      u[i] = i % 2 ? s : ((s & 0x807fffff) | (((s >>> 23) % 40 + 100) << 23)) >>> 0;
    }
    for (const format of FORMATS) {
      for (const saturate of [true, false]) {
        expect(firstMismatch(encodeFp8(x, format, { saturate }), encodeFp8Reference(x, format, { saturate }))).toBe("none");
      }
    }
  });

  it("decodes all 256 codes like the bit-field reference and ml_dtypes", () => {
    const codes = Uint8Array.from({ length: 256 }, (_, i) => i);
    for (const format of FORMATS) {
      const fast = decodeFp8(codes, format);
      const ref = decodeFp8Reference(codes, format);
      const ml = new Float32Array(new Uint8Array(fs.readFileSync(fixture("fp8", `decode_${format}_mldtypes.f32`))).buffer);
      for (let i = 0; i < 256; i++) {
        if (Number.isNaN(ref[i])) {
          expect(Number.isNaN(fast[i]) && Number.isNaN(ml[i])).toBe(true);
        } else {
          expect(Object.is(fast[i], ref[i])).toBe(true);
          expect(Object.is(ml[i], ref[i])).toBe(true);
        }
      }
    }
  });

  it("follows the OCP spec at the edges: max, subnormals, signed zero, ties to even, NaN, overflow", () => {
    const enc = (v: number[], f: Fp8Format, saturate = true) => [...encodeFp8(Float32Array.from(v), f, { saturate })];
    expect(enc([448, 464, 464.1, Infinity, -Infinity], "e4m3")).toEqual([0x7e, 0x7e, 0x7e, 0x7e, 0xfe]);
    expect(enc([464, 464.1, Infinity, -1e6], "e4m3", false)).toEqual([0x7e, 0x7f, 0x7f, 0xff]);
    expect(enc([57344, 61439, 61440, Infinity], "e5m2")).toEqual([0x7b, 0x7b, 0x7b, 0x7b]);
    expect(enc([61440, Infinity, -Infinity], "e5m2", false)).toEqual([0x7c, 0x7c, 0xfc]);
    expect(enc([2 ** -9, 2 ** -10, 1.5 * 2 ** -10, -0, 0], "e4m3")).toEqual([0x01, 0x00, 0x01, 0x80, 0x00]);
    expect(enc([2 ** -16, 2 ** -17, 3 * 2 ** -17], "e5m2")).toEqual([0x01, 0x00, 0x02]);
    // 1 + 1/16 lies halfway between 1 (mantissa 000) and 1.125 (001): ties to even.
    expect(enc([1 + 1 / 16, 1 + 3 / 16], "e4m3")).toEqual([0x38, 0x3a]);
    expect(enc([NaN, -NaN], "e4m3")).toEqual([0x7f, 0xff]);
    const nan = decodeFp8(Uint8Array.from(enc([NaN], "e5m2")), "e5m2");
    expect(Number.isNaN(nan[0])).toBe(true);
    expect(Object.is(decodeFp8(Uint8Array.of(0x80), "e4m3")[0], -0)).toBe(true);
  });

  it("decodes 0x80 to -0 in both formats, on every path (vector, tail, scaled, reference, tensor)", () => {
    for (const [format, dtype] of [["e4m3", "F8_E4M3"], ["e5m2", "F8_E5M2"]] as const) {
      for (const n of [1, 8, 37]) {
        const codes = new Uint8Array(n).fill(0x80);
        const where = `${format}, ${n} codes`;
        expect(decodeFp8(codes, format).every((v) => Object.is(v, -0)), where).toBe(true);
        expect(decodeFp8(codes, format, 3).every((v) => Object.is(v, -0)), `${where}, scale 3`).toBe(true);
        expect(decodeFp8Reference(codes, format).every((v) => Object.is(v, -0)), `${where}, reference`).toBe(true);
        expect(Tensor.fromArray("w", codes, [n], dtype).values().every((v) => Object.is(v, -0)), `${where}, tensor`).toBe(true);
        expect(decodeFp8(new Uint8Array(n), format).every((v) => Object.is(v, 0)), `${where}, +0`).toBe(true);
      }
      expect([...encodeFp8(Float32Array.of(-0), format)], format).toEqual([0x80]);
    }
  });

  it("applies a multiplier before encoding and a scale when decoding (vector and tail paths)", () => {
    const x = Float32Array.from([0.5, -1, 3, 104]);
    const codes = encodeFp8(x, "e4m3", { multiplier: 4 });
    expect([...codes]).toEqual([...encodeFp8(x.map((v) => v * 4), "e4m3")]);
    expect([...decodeFp8(codes, "e4m3", 0.25)]).toEqual([0.5, -1, 3, 104]);
    const many = Float32Array.from({ length: 1037 }, (_, i) => Math.sin(i) * 300);
    for (const format of FORMATS) {
      const scaled = encodeFp8(many, format, { multiplier: 3.7 });
      expect(firstMismatch(scaled, encodeFp8Reference(many.map((v) => v * 3.7), format))).toBe("none");
      const ref = decodeFp8Reference(scaled, format);
      const out = new Float32Array(2000);
      const dec = decodeFp8(scaled, format, 0.5, out);
      expect(dec).toBe(out);
      for (let i = 0; i < scaled.length; i++) expect(dec[i]).toBe(Math.fround(ref[i] * 0.5));
    }
    const reused = new Uint8Array(4);
    expect(encodeFp8(x, "e4m3", { out: reused })).toBe(reused);
    expect(() => encodeFp8(many, "e4m3", { out: reused })).toThrow(/holds 4 codes, need 1037/);
  });

  it("rejects an unknown format with a clear error", () => {
    expect(() => encodeFp8(new Float32Array(1), "e3m4" as Fp8Format)).toThrow(/e4m3.*e5m2/);
  });
});
