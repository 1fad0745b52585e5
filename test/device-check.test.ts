// The GPU device check (native/dev/cuda-check.sh) must keep working where it matters, on a GPU
// machine without Node: here its --dry-run builds the same standalone driver without CUDA and
// runs the CPU half (the reference backend plays the device), so a change to the backend
// interface or the model that breaks the driver fails CI, not the scarce GPU run.
import { spawnSync } from "child_process";
import * as path from "path";
import { describe, expect, it } from "vitest";

const ROOT = path.join(__dirname, "..");

describe("native/dev/cuda-check.sh --dry-run", () => {
  it("builds the driver without CUDA and passes every op, model and speed check on the CPU", () => {
    // The addon's own objects are linked (only the driver is compiled), and the driver's
    // build goes to its own folder: the test checks the driver, not a second CPU build.
    const objects = path.join(ROOT, "native", "build", "Release", "obj.target", "nemotron_lab");
    const r = spawnSync("bash", [path.join(ROOT, "native", "dev", "cuda-check.sh"), "--dry-run"], {
      cwd: ROOT, encoding: "utf8", timeout: 540_000,
      env: { ...process.env, OUT: "", NL_CHECK_OBJECTS: objects, NL_CHECK_BUILD: path.join(ROOT, "native", "build", "device-check-test") },
    });
    const out = `${r.stdout}${r.stderr}`;
    expect(r.status, out.slice(-4000)).toBe(0);
    const results = out.split("\n").filter((l) => l.startsWith("RESULT "));
    const verdicts = results.map((l) => l.split(" | ").pop());
    expect(verdicts.filter((v) => v === "FAIL")).toEqual([]);
    for (const section of ["ops", "model", "speed"]) {
      expect(results.some((l) => l.startsWith(`RESULT ${section} `)), section).toBe(true);
      expect(out).toContain(`=== ${section} done`);
    }
    // every backend op family is covered
    for (const op of ["linear", "embedding", "rmsnorm", "gated_rmsnorm", "conv1d_silu", "dt_softplus", "ssd_scan", "ssm_step", "attention", "relu2", "add", "amax", "fake_quant_fp8", "round_to", "moe_route", "gather_rows", "scatter_add_rows"])
      expect(results.some((l) => l.startsWith(`RESULT ops ${op} `)), op).toBe(true);
    expect(out).toMatch(/\d+ checks, 0 failed/);
  }, 600_000);
});
