/**
 * `nemotron-lab kernel install [--user | --sys-prefix | --prefix DIR] [--name NAME]`: writes the
 * kernelspec (kernel.json and logos) where Jupyter looks for kernels, and beside it (in
 * share/jupyter/labextensions) JupyterLab's renderer for our plotly figures (labextension/) with
 * plotly.min.js from our plotly.js-dist-min dependency, both under content-hashed names. The spec runs this package's compiled
 * kernel with the Node.js that ran the installer.
 */
import { execFileSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { logoPng } from "./logo";
import { packageRoot } from "../src/util/package-root";

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
export const LABEXTENSION_SRC = path.join(packageRoot(), "labextension");
/** The line of the entry file naming the plotly.js it fetches; the installer puts the hashed name there. */
const PLOTLY_FILE_LINE = 'var PLOTLY_FILE = "plotly.min.js";';

/** `stem.<20 hex of sha256(content)>.ext`, the shape of JupyterLab's builder's [contenthash] names. */
export function contentHashedName(file: string, content: string | Buffer): string {
  const hash = createHash("sha256").update(content).digest("hex").slice(0, 20);
  const dot = file.indexOf(".");
  return dot < 0 ? `${file}.${hash}` : `${file.slice(0, dot)}.${hash}${file.slice(dot)}`;
}

/**
 * Puts the plotly renderer where JupyterLab looks for prebuilt extensions (a sibling of the
 * kernels folder); returns its folder. The entry file named by the source package.json's
 * jupyterlab._build.load and plotly.min.js are written under content-hashed names, and the
 * installed package.json's load names the hashed entry, as JupyterLab's own builder does: the
 * browser caches these files, and a new name is what makes it fetch an updated renderer.
 * Rewrites the folder every time, so a reinstall is an upgrade.
 */
export function installLabextension(where: InstallOptions["where"], source = LABEXTENSION_SRC): string {
  const dir = path.join(path.dirname(kernelsDir(where)), "labextensions", LABEXTENSION_NAME);
  const pkgFile = path.join(source, "package.json");
  if (!fs.existsSync(pkgFile)) throw new Error(`${pkgFile} is missing: the package is incomplete, reinstall nemotron-lab`);
  const pkg = JSON.parse(fs.readFileSync(pkgFile, "utf8"));
  const load = pkg?.jupyterlab?._build?.load;
  if (typeof load !== "string" || !load.startsWith("static/")) {
    throw new Error(`${pkgFile}: jupyterlab._build.load must name the extension's entry file under static/, found ${JSON.stringify(load)}`);
  }
  const entryFile = path.join(source, load);
  if (!fs.existsSync(entryFile)) throw new Error(`${entryFile} (jupyterlab._build.load of ${pkgFile}) is missing`);
  const plotly = fs.readFileSync(require.resolve("plotly.js-dist-min/plotly.min.js"));
  const plotlyName = contentHashedName("plotly.min.js", plotly);
  const template = fs.readFileSync(entryFile, "utf8");
  if (!template.includes(PLOTLY_FILE_LINE)) throw new Error(`${entryFile}: expected the line ${PLOTLY_FILE_LINE}`);
  const entry = template.replace(PLOTLY_FILE_LINE, `var PLOTLY_FILE = ${JSON.stringify(plotlyName)};`);
  const entryName = contentHashedName(path.basename(load), entry);
  pkg.jupyterlab._build.load = `static/${entryName}`;

  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, "static"), { recursive: true });
  fs.writeFileSync(path.join(dir, "static", entryName), entry);
  fs.writeFileSync(path.join(dir, "static", plotlyName), plotly);
  fs.writeFileSync(path.join(dir, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
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
