/**
 * The Jupyter widget protocol through the real jupyter_client (test/kernel/test_widgets.py):
 * open with state and buffer_paths, update / echo_update, request_state, custom, binary buffers
 * both ways, the control comm's update_states, Output capture by msg_id, interact, close, and the
 * activation explorer redrawing on a frontend update.
 */
import { describe, expect, it } from "vitest";
import { pythonHas, runKernelUnittest } from "./kernel/helpers";

const ok = pythonHas(["jupyter_client", "zmq"], "widget protocol tests (jupyter_client)");

describe.skipIf(!ok)("widget protocol through jupyter_client", () => {
  it("passes every protocol test", () => {
    const report = runKernelUnittest("test_widgets");
    expect(Number(/Ran (\d+) tests/.exec(report)?.[1] ?? 0)).toBe(12);
    expect(report).not.toMatch(/skipped|FAIL:|ERROR:/);
    expect(report).toMatch(/^OK$/m);
  }, 300_000);
});
