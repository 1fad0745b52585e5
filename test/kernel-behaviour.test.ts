/**
 * Kernel behaviour through the real jupyter_client (test/kernel/test_behaviour.py): interrupts in
 * both modes, stop_on_error, stdin, comms, output routing, errors from timers, bad frames and
 * signatures, heartbeat during a busy cell, restart. Each Python test must report "ok".
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { installSpec, jupyterEnv, PYTHON, pythonHas, ROOT } from "./kernel/helpers";

const ok = pythonHas(["jupyter_client", "zmq"], "kernel behaviour tests (jupyter_client)");

describe.skipIf(!ok)("kernel behaviour through jupyter_client", () => {
  it("passes every behaviour test", () => {
    const { jupyterPath, dir } = installSpec();
    try {
      const r = spawnSync(PYTHON, ["-m", "unittest", "-v", "test_behaviour"], {
        cwd: path.join(ROOT, "test", "kernel"),
        env: jupyterEnv(jupyterPath, dir),
        encoding: "utf8",
        timeout: 110_000,
      });
      const report = `${r.stdout}\n${r.stderr}`;
      if (r.status !== 0) console.error(report);
      expect(r.status, report).toBe(0);
      const ran = Number(/Ran (\d+) tests/.exec(report)?.[1] ?? 0);
      expect(ran).toBeGreaterThanOrEqual(25);
      // unittest prints "OK" only when nothing failed, errored or was skipped.
      expect(report).not.toMatch(/skipped|FAIL:|ERROR:/);
      expect(report).toMatch(/^OK$/m);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
