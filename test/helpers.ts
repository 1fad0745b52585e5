/** Shared test helpers: temp folders and running the built CLI. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { spawnSync } from "child_process";

export const ROOT = path.resolve(__dirname, "..");

export function tempDir(prefix = "nl-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** The built `nemotron-lab` command (npm test compiles first). */
export const CLI_MAIN = path.join(ROOT, "dist", "cli", "main.js");

/** Runs `nemotron-lab ARGS` from dist/. */
export function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [CLI_MAIN, ...args], {
    encoding: "utf8", env: { ...process.env, NEMOTRON_LAB_NO_PROGRESS: "1", ...env }, timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function fixture(...parts: string[]): string {
  return path.join(ROOT, "test", "fixtures", ...parts);
}

/** All 65536 16-bit patterns read as BF16 or F16, as float32 values and as raw bits. */
export function all16(kind: "bf16" | "f16"): { bits: Uint16Array; values: Float32Array } {
  const bits = new Uint16Array(65536).map((_, i) => i);
  const values = new Float32Array(65536);
  const u = new Uint32Array(values.buffer);
  for (let i = 0; i < 65536; i++) {
    if (kind === "bf16") u[i] = i << 16;
    else if ((i & 0x7c00) === 0x7c00 && i & 0x3ff) u[i] = ((i & 0x8000) << 16) | 0x7f800000 | ((i & 0x3ff) << 13);  // keep NaN sign and payload
    else values[i] = f16ToNumber(i);
  }
  return { bits, values };
}

function f16ToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  if (e === 0) return s * m * 2 ** -24;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
