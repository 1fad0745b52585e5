/**
 * `nemotron-lab kernel install [--user | --sys-prefix | --prefix DIR] [--name NAME]`: writes the
 * kernelspec (kernel.json and logos) where Jupyter looks for kernels, and beside it (in
 * share/jupyter/labextensions) JupyterLab's renderer for our plotly figures (labextension/) with
 * plotly.min.js from our plotly.js-dist-min dependency. The spec runs this package's compiled
 * kernel with the Node.js that ran the installer.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { logoPng } from "./logo";

export const KERNEL_NAME = "nemotron-lab";
export const DISPLAY_NAME = "TypeScript (nemotron-lab)";

export interface InstallOptions {
  where: { kind: "user" } | { kind: "sys-prefix" } | { kind: "prefix"; dir: string };
  name?: string;
}

/** Jupyter's per-user data dir (what `jupyter --data-dir` prints). */
function userDataDir(): string {
  if (process.env.JUPYTER_DATA_DIR) return process.env.JUPYTER_DATA_DIR;
  if (process.platform === "darwin") return path.join(os.homedir(), "Library", "Jupyter");
  if (process.platform === "win32") return path.join(process.env.APPDATA ?? os.homedir(), "jupyter");
  return path.join(process.env.XDG_DATA_HOME ?? path.join(os.homedir(), ".local", "share"), "jupyter");
}

/** The Python environment Jupyter runs in: an active conda/venv, else python3's sys.prefix. */
function sysPrefix(): string {
  const env = process.env.CONDA_PREFIX ?? process.env.VIRTUAL_ENV;
  if (env) return env;
  for (const py of ["python3", "python"]) {
    try {
      return execFileSync(py, ["-c", "import sys; print(sys.prefix)"], { encoding: "utf8" }).trim();
    } catch {
      // try the next one
    }
  }
  throw new Error("--sys-prefix: no active conda/virtualenv and no python3 to ask for sys.prefix");
}

export function kernelsDir(where: InstallOptions["where"]): string {
  switch (where.kind) {
    case "user": return path.join(userDataDir(), "kernels");
    case "sys-prefix": return path.join(sysPrefix(), "share", "jupyter", "kernels");
    case "prefix": return path.join(path.resolve(where.dir), "share", "jupyter", "kernels");
  }
}

export function kernelSpec(): Record<string, unknown> {
  const main = path.join(__dirname, "main.js");
  return {
    argv: [process.execPath, main, "--connection-file", "{connection_file}"],
    display_name: DISPLAY_NAME,
    language: "typescript",
    // interrupt_request on control; the kernel also honours SIGINT.
    interrupt_mode: "message",
    env: {},
    metadata: { debugger: false },
  };
}

/** The prebuilt JupyterLab extension that draws application/vnd.plotly.v1+json (labextension/ in this package). */
export const LABEXTENSION_NAME = "nemotron-lab-plotly";
const LABEXTENSION_SRC = path.join(__dirname, "..", "..", "labextension");

/**
 * Puts the plotly renderer where JupyterLab looks for prebuilt extensions (a sibling of the
 * kernels folder); returns its folder. Rewrites it every time, so a reinstall is an upgrade.
 */
export function installLabextension(where: InstallOptions["where"]): string {
  const dir = path.join(path.dirname(kernelsDir(where)), "labextensions", LABEXTENSION_NAME);
  const pkg = path.join(LABEXTENSION_SRC, "package.json");
  if (!fs.existsSync(pkg)) throw new Error(`${pkg} is missing: the package is incomplete, reinstall nemotron-lab`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, "static"), { recursive: true });
  fs.copyFileSync(pkg, path.join(dir, "package.json"));
  fs.copyFileSync(path.join(LABEXTENSION_SRC, "static", "remoteEntry.js"), path.join(dir, "static", "remoteEntry.js"));
  fs.copyFileSync(require.resolve("plotly.js-dist-min/plotly.min.js"), path.join(dir, "static", "plotly.min.js"));
  return dir;
}

/** Installs the spec and the plotly renderer; returns the spec's folder. */
export function installKernelspec(opts: InstallOptions): string {
  installLabextension(opts.where);
  const dir = path.join(kernelsDir(opts.where), opts.name ?? KERNEL_NAME);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "kernel.json"), `${JSON.stringify(kernelSpec(), null, 2)}\n`);
  fs.writeFileSync(path.join(dir, "logo-64x64.png"), logoPng(64));
  fs.writeFileSync(path.join(dir, "logo-32x32.png"), logoPng(32));
  return dir;
}

export function parseInstallArgs(argv: string[]): InstallOptions {
  let where: InstallOptions["where"] = { kind: "user" };
  let name: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--user") where = { kind: "user" };
    else if (a === "--sys-prefix") where = { kind: "sys-prefix" };
    else if (a === "--prefix" || a.startsWith("--prefix=")) {
      const dir = a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i];
      if (!dir) throw new Error("--prefix needs a folder");
      where = { kind: "prefix", dir };
    } else if (a === "--name" || a.startsWith("--name=")) {
      name = a.includes("=") ? a.slice(a.indexOf("=") + 1) : argv[++i];
      if (!name || !/^[a-z0-9._-]+$/i.test(name)) throw new Error("--name needs a kernel name (letters, digits, . _ -)");
    } else throw new Error(`kernel install: unknown option ${a}`);
  }
  return { where, name };
}
