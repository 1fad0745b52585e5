/**
 * Linear-layer streaming: one decode step's matvecs of the 45M bench model (9 Mamba in/out,
 * 8 MLP up/down, the lm_head; 80 MB in BF16) and, with NEMOTRON_LAB_BENCH_SCALE=9b, Nano-9B's
 * in_proj/down_proj/out_proj, through opLinear in BF16 and FP8 E4M3, as GB/s of weights beside
 * the read bandwidth measured in the same repetitions (1, 2 and all threads). On a shared
 * machine the fastest of many alternating repetitions is what compares:
 * NEMOTRON_LAB_BENCH_COMPARE_ADDON=/path/to/other/nemotron_lab.node times another build of the
 * addon in the same process, rep by rep, to A/B a kernel change.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { NativeAddon, native } from "../src/backend/native";
import { DType, dtypeCode } from "../src/tensor/dtype";
import { row } from "./common";
import { threadCounts } from "./model";

function shapes(): [number, number][] {
  if (process.env.NEMOTRON_LAB_BENCH_SCALE === "9b") return [[22656, 4480], [4480, 15680], [4480, 10240]];
  const s: [number, number][] = [];
  for (let l = 0; l < 9; l++) s.push([3088, 512], [512, 1024]);
  for (let l = 0; l < 8; l++) s.push([2048, 512], [512, 2048]);
  s.push([8192, 512]);
  return s;
}

/** The other addon build to compare with, loaded from a copy (Node loads a path once). */
function otherAddon(): NativeAddon | undefined {
  const file = process.env.NEMOTRON_LAB_BENCH_COMPARE_ADDON;
  if (!file) return undefined;
  const copy = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "nl-addon-")), "compare.node");
  fs.copyFileSync(file, copy);
  return require(copy) as NativeAddon;
}

export async function run(): Promise<void> {
  const reps = 20, sh = shapes();
  const addons: [string, NativeAddon][] = [["this build", native()]];
  const other = otherAddon();
  if (other) addons.push([path.basename(process.env.NEMOTRON_LAB_BENCH_COMPARE_ADDON!), other]);
  console.log(`\n== linear: one decode step's matvecs (${sh.length} matrices), fastest of ${reps} alternating repetitions`);
  for (const dtype of ["BF16", "F8_E4M3"] as DType[]) {
    const es = dtype === "BF16" ? 2 : 1, code = dtypeCode(dtype);
    // Finite values of every exponent (BF16 0x0000-0xbfff pattern, FP8 codes without NaN).
    const ws = sh.map(([r, c]) => { const b = new Uint8Array(r * c * es); for (let i = 0; i < b.length; i++) b[i] = ((i * 2654435761) >>> 24) & (es === 2 ? 0xbf : 0x77); return b; });
    const scale = dtype === "BF16" ? null : Float32Array.of(0.01);
    const xs = sh.map(([, c]) => new Float32Array(c).fill(0.5)), ys = sh.map(([r]) => new Float32Array(r));
    const bytes = ws.reduce((a, b) => a + b.length, 0);
    const big = new Uint8Array(bytes);
    for (let i = 0; i < bytes; i += 4096) big[i] = 1;
    for (const n of threadCounts()) {
      const best = addons.map(() => ({ lin: Infinity, read: Infinity }));
      for (let rep = 0; rep < reps; rep++) {
        for (const [i, [, a]] of addons.entries()) {
          a.setThreads(n);
          let t = process.hrtime.bigint();
          for (let k = 0; k < sh.length; k++) a.opLinear(xs[k], 1, ws[k], code, sh[k][0], sh[k][1], scale, sh[k][0], sh[k][1], null, ys[k], false);
          best[i].lin = Math.min(best[i].lin, Number(process.hrtime.bigint() - t) / 1e9);
          t = process.hrtime.bigint();
          a.readSum(big);
          best[i].read = Math.min(best[i].read, Number(process.hrtime.bigint() - t) / 1e9);
        }
      }
      for (const [i, [name]] of addons.entries()) {
        const lin = bytes / best[i].lin / 1e9, read = bytes / best[i].read / 1e9;
        const vs = i > 0 ? `; this build ${(best[i].lin / best[0].lin).toFixed(2)}x` : "";
        row(`${dtype} ${(bytes / 1e6).toFixed(0)} MB, ${n} thread${n > 1 ? "s" : ""} (${name})`, `${lin.toFixed(1)} GB/s`, `${((lin / read) * 100).toFixed(0)}% of the read ${read.toFixed(1)} GB/s${vs}`);
      }
    }
  }
  native().setThreads(0);
}
