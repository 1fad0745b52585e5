/**
 * A real JupyterLab 4.6 server for browser tests: `jupyter lab` from the repo's .venv
 * (tools/python-env.sh) on 127.0.0.1 and a free port, token auth, a temporary root folder holding
 * copies of the notebooks, our kernelspec (and plotly renderer) installed into a temporary prefix,
 * and every JUPYTER_* folder isolated so nothing is read from or written to $HOME.
 */
import { ChildProcess, spawn, spawnSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { installSpec, jupyterEnv, ROOT } from "../kernel/helpers";
import { canRunOrSkip } from "./browser";
import { DISPLAY_NAME, KERNEL_NAME } from "../../kernel/install";

export const VENV_JUPYTER = path.join(ROOT, ".venv", "bin", "jupyter");

/** Why JupyterLab cannot start here, or null when it can. */
export function jupyterLabMissingReason(): string | null {
  if (!fs.existsSync(VENV_JUPYTER)) return `${VENV_JUPYTER} not found; run \`bash tools/python-env.sh\``;
  const r = spawnSync(VENV_JUPYTER, ["lab", "--version"], { encoding: "utf8" });
  if (r.status !== 0) return `\`jupyter lab --version\` failed: ${r.stderr}`;
  if (!/^4\./.test(r.stdout.trim())) return `JupyterLab ${r.stdout.trim()} found; 4.x expected`;
  return null;
}

/** True when JupyterLab is here (see canRunOrSkip). */
export function hasJupyterLab(): boolean {
  return canRunOrSkip("JupyterLab tests", jupyterLabMissingReason());
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface JupyterLabServer {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly token: string;
  /** The server's root folder (copies of the notebooks live here). */
  readonly rootDir: string;
  /** The temporary prefix holding the kernelspec, runtime and config folders. */
  readonly dir: string;
  /** The lab URL of a file under rootDir, logged in with the token. */
  labUrl(file?: string): string;
  /** Everything the server printed so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Files to copy into the root folder (default: every notebook under notebooks/). */
  files?: string[];
  /** Extra environment for the server and its kernels. */
  env?: NodeJS.ProcessEnv;
  /** How long to wait for the server to answer (ms). */
  timeoutMs?: number;
}

/**
 * User settings in the temporary config folder: no news or update notifications (a toast over the
 * notebook would catch clicks meant for it, and the fetch would try to reach the internet).
 */
function quietSettings(configDir: string): void {
  const file = path.join(configDir, "lab", "user-settings", "@jupyterlab", "apputils-extension", "notification.jupyterlab-settings");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify({ fetchNews: "false", checkForUpdates: false }));
}

/** An nbformat 4.5 notebook on our kernel with one code cell per source. */
export function notebookJson(sources: string[]): Record<string, unknown> {
  return {
    nbformat: 4, nbformat_minor: 5,
    metadata: { kernelspec: { name: KERNEL_NAME, display_name: DISPLAY_NAME, language: "typescript" }, language_info: { name: "typescript" } },
    cells: sources.map((source, i) => ({ id: `cell-${i}`, cell_type: "code", metadata: {}, source, outputs: [], execution_count: null })),
  };
}

/** Starts `jupyter lab`; resolves once its REST API answers with the token. */
export async function startJupyterLab(options: StartOptions = {}): Promise<JupyterLabServer> {
  const { jupyterPath, dir } = installSpec();
  const rootDir = path.join(dir, "root");
  fs.mkdirSync(rootDir, { recursive: true });
  const nbDir = path.join(ROOT, "notebooks");
  const files = options.files ?? fs.readdirSync(nbDir).filter((f) => f.endsWith(".ipynb")).map((f) => path.join(nbDir, f));
  for (const f of files) fs.copyFileSync(f, path.join(rootDir, path.basename(f)));
  quietSettings(path.join(dir, "config"));
  const token = randomBytes(16).toString("hex");
  const port = await freePort();
  const env = { ...jupyterEnv(jupyterPath, dir), NEMOTRON_LAB_MODELS_DIR: path.join(dir, "models"), ...options.env };
  const child: ChildProcess = spawn(VENV_JUPYTER, [
    "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1", `--port=${port}`, "--port-retries=0", `--ServerApp.root_dir=${rootDir}`,
    `--IdentityProvider.token=${token}`, "--LabApp.news_url=", "--LabApp.expose_app_in_browser=True", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
  ], { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  let exited: number | null | undefined;
  const exit = new Promise<void>((resolve) => child.once("exit", (code) => { exited = code; resolve(); }));
  const url = `http://127.0.0.1:${port}`;

  const stop = async () => {
    if (exited === undefined && child.pid) {
      // The whole process group: the server and the kernels it started.
      try { process.kill(-child.pid, "SIGTERM"); } catch { /* already gone */ }
      const killed = await Promise.race([exit.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))]);
      if (!killed) try { process.kill(-child.pid, "SIGKILL"); } catch { /* already gone */ }
      await Promise.race([exit, new Promise((r) => setTimeout(r, 2_000))]);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    if (exited !== undefined) {
      await stop();
      throw new Error(`jupyter lab exited (${exited}) before answering:\n${out}`);
    }
    try {
      const r = await fetch(`${url}/api/status`, { headers: { Authorization: `token ${token}` } });
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`jupyter lab did not answer on ${url} within ${options.timeoutMs ?? 60_000} ms:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url, token, rootDir, dir,
    labUrl: (file?: string) => `${url}/lab${file ? `/tree/${encodeURIComponent(file)}` : ""}?token=${token}`,
    log: () => out,
    stop,
  };
}
