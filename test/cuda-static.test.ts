// Static checks of the CUDA kernels that need no GPU: every kernel is compiled for sm_80 and
// sm_90a, and none spills registers to local memory (a spill in a bandwidth-bound kernel costs
// a memory round trip per use). The reports are ptxas's own (-Xptxas -v), kept beside each
// object by native/nvcc.js during `npm install`.
import * as fs from "fs";
import * as path from "path";
import { execFileSync } from "child_process";
import { describe, expect, it } from "vitest";

const ROOT = path.join(__dirname, "..");
const OBJ_DIR = path.join(ROOT, "native", "build", "Release", "obj.target", "nemotron_lab", "geni");
const CU_FILES = fs.readdirSync(path.join(ROOT, "native", "src", "cuda")).filter((f) => f.endsWith(".cu"));
const cudaRoot = execFileSync(process.execPath, [path.join(ROOT, "native", "find-cuda.js")], { encoding: "utf8" }).trim();

interface KernelReport { kernel: string; arch: string; stackBytes: number; spillStores: number; spillLoads: number }

/** Entries of one ptxas -v report: "Compiling entry function 'K' for 'sm_XX'" then its properties. */
export function parsePtxasReport(text: string): KernelReport[] {
  const out: KernelReport[] = [];
  let current: { kernel: string; arch: string } | null = null;
  for (const line of text.split("\n")) {
    const entry = /Compiling entry function '([^']+)' for '(sm_\w+)'/.exec(line);
    if (entry) { current = { kernel: entry[1], arch: entry[2] }; continue; }
    const props = /(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads/.exec(line);
    if (props && current) {
      out.push({ ...current, stackBytes: +props[1], spillStores: +props[2], spillLoads: +props[3] });
      current = null;
    }
  }
  return out;
}

describe("ptxas report parser", () => {
  it("reads kernels, architectures and spills", () => {
    const r = parsePtxasReport([
      "ptxas info    : Compiling entry function '_Z3fooPf' for 'sm_80'",
      "ptxas info    : Function properties for _Z3fooPf",
      "    8 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads",
      "ptxas info    : Used 64 registers",
      "ptxas info    : Compiling entry function '_Z3fooPf' for 'sm_90a'",
      "ptxas info    : Function properties for _Z3fooPf",
      "    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads",
    ].join("\n"));
    expect(r).toEqual([
      { kernel: "_Z3fooPf", arch: "sm_80", stackBytes: 8, spillStores: 8, spillLoads: 4 },
      { kernel: "_Z3fooPf", arch: "sm_90a", stackBytes: 0, spillStores: 0, spillLoads: 0 },
    ]);
  });
});

if (!cudaRoot) console.warn("\n*** cuda-static.test.ts: SKIPPED: no CUDA toolkit here, so the addon has no CUDA kernels ***\n");

describe.skipIf(!cudaRoot)("CUDA kernels (ptxas reports of this build)", () => {
  for (const cu of CU_FILES) {
    it(`${cu}: every kernel built for sm_80 and sm_90a, no register spills`, () => {
      const file = path.join(OBJ_DIR, `${path.basename(cu, ".cu")}.cu.o.ptxas.txt`);
      expect(fs.existsSync(file), `${file} (made by native/nvcc.js during the build; rebuild with npm run install)`).toBe(true);
      const report = parsePtxasReport(fs.readFileSync(file, "utf8"));
      const kernels = new Set(report.map((k) => k.kernel));
      for (const k of kernels) {
        const archs = report.filter((e) => e.kernel === k).map((e) => e.arch).sort();
        expect(archs, k).toEqual(["sm_80", "sm_90a"]);
      }
      const spilling = report.filter((k) => k.spillStores > 0 || k.spillLoads > 0)
        .map((k) => `${k.kernel} (${k.arch}): ${k.spillStores} B stores, ${k.spillLoads} B loads`);
      expect(spilling).toEqual([]);
    });
  }
});

describe("the CUDA decode step's memory traffic, from the kernels' launch plans", () => {
  // The real forward (T = 1, greedy, sampled on the device) runs on a backend that launches
  // nothing and adds up the bytes of each launch its CUDA launcher would make (cuda/plan.h).
  it("Nano-9B: >= 90% of the bytes a decode step moves are the unavoidable ones, at 1k to 128k context", async () => {
    const { native, nativeModelConfig } = await import("../src/index");
    const { parseConfig, layerPlan } = await import("../src/model/config");
    const { BLOCK_KIND } = await import("../src/model/plan");
    const { dtypeCode } = await import("../src/tensor/dtype");
    const cfg = parseConfig(fs.readFileSync(path.join(ROOT, "test", "fixtures", "nemotron-nano-9b-v2.config.json"), "utf8"));
    const kinds = layerPlan(cfg).map((l) => BLOCK_KIND[l.kind]);
    const rows: string[] = [];
    for (const [dtype, kv] of [["F8_E4M3", "bf16"], ["BF16", "bf16"], ["F8_E4M3", "f32"]] as const) {
      const config = nativeModelConfig(cfg, kinds, { kvCacheDtype: kv });
      for (const context of [1024, 32768, 131071]) {
        const t = native().cudaDecodeTraffic(config, dtypeCode(dtype), cfg.intermediate_size, context);
        const share = t.unavoidable / t.moved;
        rows.push(`${dtype} weights, ${kv} KV, ${context} context: ${(t.moved / 1e9).toFixed(3)} GB moved, ` +
          `${(100 * share).toFixed(2)}% unavoidable, ${t.launches} launches`);
        // Every weight byte is read once, by the linears (and the small vectors by their kernels).
        const linearRead = t.kernels.filter((k) => k.kernel.startsWith("matvec")).reduce((s, k) => s + k.read, 0);
        expect(linearRead).toBeGreaterThan(0.99 * t.weights);
        expect(t.moved).toBeGreaterThanOrEqual(t.unavoidable * 0.999);  // the plans move at least what must move
        // The decode path: streaming matvecs only, split-key attention past 512 keys, one sampling launch.
        expect(t.kernels.map((k) => k.kernel)).not.toContain("matvec");
        expect(t.kernels.find((k) => k.kernel === "sample")?.launches).toBe(1);
        expect(t.kernels.some((k) => k.kernel === "attention_split")).toBe(context >= 512);
        if (kv === "bf16") expect(share).toBeGreaterThanOrEqual(0.9);
      }
    }
    console.log(rows.join("\n"));
  });
});
