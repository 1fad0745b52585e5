/**
 * Shared helpers for the kernel tests: the system Python with the Debian Jupyter packages, a
 * kernelspec installed into a temporary JUPYTER_PATH, and a loud skip when a client is missing.
 */
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { expect } from "vitest";

export const ROOT = path.resolve(__dirname, "..", "..");
export const KERNEL_MAIN = path.join(ROOT, "dist", "kernel", "main.js");
export const PYTHON = fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

/** True when every Python module imports; otherwise says so loudly (CI installs them). */
export function pythonHas(modules: string[], what: string): boolean {
  const r = spawnSync(PYTHON, ["-c", modules.map((m) => `import ${m}`).join("; ")], { encoding: "utf8" });
  if (r.status === 0) return true;
  const bar = "!".repeat(78);
  console.warn(
    `\n${bar}\n!! SKIPPING ${what}: ${PYTHON} cannot import ${modules.join(", ")}.\n` +
      `!! Install the Debian packages with .ci/kernel-deps.sh (CI always does).\n${bar}\n`,
  );
  return false;
}

/** Installs the kernelspec under a fresh prefix; returns the JUPYTER_PATH to use. */
export function installSpec(): { jupyterPath: string; dir: string } {
  if (!fs.existsSync(KERNEL_MAIN)) throw new Error(`${KERNEL_MAIN} is missing: run tsc -p tsconfig.json first`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nemotron-lab-kernel-"));
  execFileSync(process.execPath, [KERNEL_MAIN, "install", "--prefix", dir], { encoding: "utf8" });
  return { jupyterPath: path.join(dir, "share", "jupyter"), dir };
}

/** An environment where Jupyter sees only our temporary spec and writes nothing in $HOME. */
export function jupyterEnv(jupyterPath: string, dir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    JUPYTER_PATH: jupyterPath,
    JUPYTER_DATA_DIR: path.join(dir, "data"),
    JUPYTER_RUNTIME_DIR: path.join(dir, "runtime"),
    JUPYTER_CONFIG_DIR: path.join(dir, "config"),
    IPYTHONDIR: path.join(dir, "ipython"),
    PYTHONDONTWRITEBYTECODE: "1",
  };
}

/**
 * Runs `python -m unittest -v MODULE` from test/kernel against a freshly installed kernelspec;
 * returns its report after checking the exit status (the spec's folder is removed afterwards).
 */
export function runKernelUnittest(module: string): string {
  const { jupyterPath, dir } = installSpec();
  try {
    const r = spawnSync(PYTHON, ["-m", "unittest", "-v", module], {
      cwd: path.join(ROOT, "test", "kernel"), env: jupyterEnv(jupyterPath, dir), encoding: "utf8", timeout: 280_000,
    });
    const report = `${r.stdout}\n${r.stderr}`;
    if (r.status !== 0) console.error(report);
    expect(r.status, report).toBe(0);
    return report;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
