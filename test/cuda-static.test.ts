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
