/**
 * The kernelspec logo, drawn in code (no binary in the repository): a green tile with a white
 * "TS" and a bar, encoded as an RGBA PNG with zlib.
 */
import * as zlib from "zlib";

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

export function encodePng(width: number, height: number, rgba: Uint8Array): Buffer {
  const raw = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 4 + 1)] = 0; // filter: none
    Buffer.from(rgba.buffer, rgba.byteOffset + y * width * 4, width * 4).copy(raw, y * (width * 4 + 1) + 1);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", zlib.deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** 5x7 glyphs for the letters we draw. */
const GLYPHS: Record<string, string[]> = {
  T: ["#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."],
  S: [".####", "#....", "#....", ".###.", "....#", "....#", "####."],
};

export function logoPng(size: number): Buffer {
  const px = new Uint8Array(size * size * 4);
  const set = (x: number, y: number, r: number, g: number, b: number, a = 255) => {
    if (x < 0 || y < 0 || x >= size || y >= size) return;
    const i = (y * size + x) * 4;
    px[i] = r; px[i + 1] = g; px[i + 2] = b; px[i + 3] = a;
  };
  const radius = size / 8;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      // Rounded corners: transparent outside the radius.
      const dx = Math.max(radius - x, x - (size - 1 - radius), 0);
      const dy = Math.max(radius - y, y - (size - 1 - radius), 0);
      if (dx * dx + dy * dy > radius * radius) continue;
      set(x, y, 0x76, 0xb9, 0x00); // NVIDIA green
    }
  }
  const scale = Math.max(1, Math.floor(size / 16));
  const text = "TS";
  const textW = (text.length * 6 - 1) * scale;
  const x0 = Math.floor((size - textW) / 2);
  const y0 = Math.floor(size / 2 - 7 * scale / 2) - scale;
  [...text].forEach((ch, k) => {
    GLYPHS[ch].forEach((row, gy) => {
      [...row].forEach((cell, gx) => {
        if (cell !== "#") return;
        for (let sy = 0; sy < scale; sy++) for (let sx = 0; sx < scale; sx++) set(x0 + (k * 6 + gx) * scale + sx, y0 + gy * scale + sy, 255, 255, 255);
      });
    });
  });
  // A bar under the letters: a token stream.
  const barY = y0 + 9 * scale;
  for (let y = barY; y < barY + scale; y++) for (let x = x0; x < x0 + textW; x++) set(x, y, 255, 255, 255);
  return encodePng(size, size, px);
}
