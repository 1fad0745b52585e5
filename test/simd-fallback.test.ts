// The SIMD paths users' CPUs take when they have less than this machine (AVX2 without
// AVX-512 VBMI, or none): the kernel, codec and golden-logit suites rerun with
// NEMOTRON_LAB_SIMD capping the level, so each fallback is checked against the references.
import { spawnSync } from "child_process";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { native } from "../src/index";
import { ROOT } from "./helpers";

const SUITES = ["test/kernels.test.ts", "test/fp8.test.ts", "test/tensor.test.ts", "test/quant-kernel.test.ts", "test/model-golden.test.ts"];

function run(level: string) {
  const vitest = path.join(ROOT, "node_modules", "vitest", "vitest.mjs");
  const probe = spawnSync(process.execPath, ["-e", `process.stdout.write(require(${JSON.stringify(path.join(ROOT, "native", "build", "Release", "nemotron_lab.node"))}).simdLevel())`],
    { encoding: "utf8", env: { ...process.env, NEMOTRON_LAB_SIMD: level } });
  const r = spawnSync(process.execPath, [vitest, "run", ...SUITES], {
    cwd: ROOT, encoding: "utf8", env: { ...process.env, NEMOTRON_LAB_SIMD: level }, timeout: 300_000,
  });
  return { level: probe.stdout, status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

describe("SIMD fallbacks", () => {
  const best = native().simdLevel();
  it.skipIf(best === "plain" || best === "avx2")("AVX2 without AVX-512: kernels, codec, statistics, quantizer and golden logits", () => {
    const r = run("avx2");
    expect(r.level).toBe("avx2");
    expect(r.status, r.out.slice(-3000)).toBe(0);
  });
  it.skipIf(best === "plain")("no SIMD intrinsics: the same suites on the portable paths", () => {
    const r = run("plain");
    expect(r.level).toBe("plain");
    expect(r.status, r.out.slice(-3000)).toBe(0);
  });
});
