/**
 * jupyter_kernel_test (the Jupyter project's conformance suite) against the installed kernelspec:
 * kernel_info, execute stdout/stderr/result/display/clear_output/error, completion, is_complete,
 * inspect and history, all checked by the real jupyter_client and its message schemas.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { installSpec, jupyterEnv, PYTHON, pythonHas, ROOT } from "./kernel/helpers";

const ok = pythonHas(["jupyter_kernel_test", "jupyter_client"], "jupyter_kernel_test conformance");

describe.skipIf(!ok)("jupyter_kernel_test conformance", () => {
  it("passes every test with every attribute set", () => {
    const { jupyterPath, dir } = installSpec();
    try {
      const r = spawnSync(PYTHON, ["-m", "unittest", "-v", "test_conformance"], {
        cwd: path.join(ROOT, "test", "kernel"),
        env: jupyterEnv(jupyterPath, dir),
        encoding: "utf8",
        timeout: 110_000,
      });
      const report = `${r.stdout}\n${r.stderr}`;
      if (r.status !== 0) console.error(report);
      expect(r.status, report).toBe(0);
      // Every test ran (only the pager, which this kernel does not have, is skipped).
      for (const t of ["kernel_info", "execute_stdout", "execute_stderr", "execute_result", "display_data", "clear_output",
        "error", "completion", "is_complete", "inspect", "history"]) {
        expect(report).toMatch(new RegExp(`test_${t} \\(.*\\) \\.\\.\\. ok`));
      }
      expect(report).toMatch(/Ran 12 tests/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
