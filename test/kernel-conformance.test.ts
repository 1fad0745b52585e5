/**
 * jupyter_kernel_test (the Jupyter project's conformance suite) against the installed kernelspec:
 * kernel_info, execute stdout/stderr/result/display/clear_output/error, completion, is_complete,
 * inspect and history, all checked by the real jupyter_client and its message schemas.
 */
import { describe, expect, it } from "vitest";
import { pythonHas, runKernelUnittest } from "./kernel/helpers";

const ok = pythonHas(["jupyter_kernel_test", "jupyter_client"], "jupyter_kernel_test conformance");

describe.skipIf(!ok)("jupyter_kernel_test conformance", () => {
  it("passes every test with every attribute set", () => {
    const report = runKernelUnittest("test_conformance");
    // Every test ran (only the pager, which this kernel does not have, is skipped).
    for (const t of ["kernel_info", "execute_stdout", "execute_stderr", "execute_result", "display_data", "clear_output",
      "error", "completion", "is_complete", "inspect", "history"]) {
      expect(report).toMatch(new RegExp(`test_${t} \\(.*\\) \\.\\.\\. ok`));
    }
    expect(report).toMatch(/Ran 12 tests/);
  }, 300_000);  // the Python suite runs under its own 280 s limit (slow on a loaded machine)
});
