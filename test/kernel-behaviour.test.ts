/**
 * Kernel behaviour through the real jupyter_client (test/kernel/test_behaviour.py): interrupts in
 * both modes, stop_on_error, stdin, comms, output routing, errors from timers, bad frames and
 * signatures, heartbeat during a busy cell, restart. Each Python test must report "ok".
 */
import { describe, expect, it } from "vitest";
import { pythonHas, runKernelUnittest } from "./kernel/helpers";

const ok = pythonHas(["jupyter_client", "zmq"], "kernel behaviour tests (jupyter_client)");

describe.skipIf(!ok)("kernel behaviour through jupyter_client", () => {
  it("passes every behaviour test", () => {
    const report = runKernelUnittest("test_behaviour");
    const ran = Number(/Ran (\d+) tests/.exec(report)?.[1] ?? 0);
    expect(ran).toBeGreaterThanOrEqual(25);
    // unittest prints "OK" only when nothing failed, errored or was skipped.
    expect(report).not.toMatch(/skipped|FAIL:|ERROR:/);
    expect(report).toMatch(/^OK$/m);
  }, 300_000);  // the Python suite runs under its own 280 s limit (slow on a loaded machine)
});
