/**
 * The plotly renderer as `nemotron-lab kernel install` puts it in place: its entry file and
 * plotly.min.js carry a hash of their content in their names (as JupyterLab's builder names a
 * prebuilt extension's files), the installed package.json's jupyterlab._build.load names the
 * hashed entry, an updated renderer gets a new name (so a browser's cached copy is not reused),
 * and JupyterLab itself lists the installed extension as enabled and OK.
 */
import { createHash } from "crypto";
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { afterEach, describe, expect, it } from "vitest";
import { installLabextension, LABEXTENSION_NAME, LABEXTENSION_SRC } from "../kernel/install";
import { KERNEL_MAIN, jupyterEnv } from "./kernel/helpers";
import { VENV_JUPYTER } from "./helpers/jupyterlab";
import { tempDir } from "./helpers";

const HASHED = /^(.+)\.([0-9a-f]{20})(\..+)$/;
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex").slice(0, 20);

/** The installed extension: its package.json, its files, and the hash check of each name. */
function installed(prefix: string) {
  const dir = path.join(prefix, "share", "jupyter", "labextensions", LABEXTENSION_NAME);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
  const files = fs.readdirSync(path.join(dir, "static")).sort();
  const hashOk = files.map((f) => {
    const m = HASHED.exec(f);
    return { f, ok: !!m && m[2] === sha(fs.readFileSync(path.join(dir, "static", f))) };
  });
  return { dir, pkg, files, hashOk, load: pkg.jupyterlab._build.load as string };
}

describe("the labextension as installed", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });

  it("`kernel install` writes content-hashed files and the hashed entry into package.json's jupyterlab._build.load", () => {
    const prefix = tempDir();
    dirs.push(prefix);
    execFileSync(process.execPath, [KERNEL_MAIN, "install", "--prefix", prefix]);
    const ext = installed(prefix);
    expect(ext.load).toMatch(/^static\/remoteEntry\.[0-9a-f]{20}\.js$/);
    expect(ext.files).toHaveLength(2);
    expect(ext.files).toContain(path.basename(ext.load));
    expect(ext.hashOk.filter((h) => !h.ok)).toEqual([]);
    // The entry fetches the hashed plotly.min.js that lies beside it, with the dependency's bytes.
    const entry = fs.readFileSync(path.join(ext.dir, ext.load), "utf8");
    const plotlyName = ext.files.find((f) => f.startsWith("plotly."))!;
    expect(plotlyName).toMatch(/^plotly\.[0-9a-f]{20}\.min\.js$/);
    expect(entry).toContain(`var PLOTLY_FILE = ${JSON.stringify(plotlyName)};`);
    expect(fs.readFileSync(path.join(ext.dir, "static", plotlyName)).equals(fs.readFileSync(require.resolve("plotly.js-dist-min/plotly.min.js")))).toBe(true);
    // The rest of package.json is the source's, unchanged.
    const src = JSON.parse(fs.readFileSync(path.join(LABEXTENSION_SRC, "package.json"), "utf8"));
    expect({ ...ext.pkg, jupyterlab: { ...ext.pkg.jupyterlab, _build: { ...ext.pkg.jupyterlab._build, load: src.jupyterlab._build.load } } }).toEqual(src);
  });

  it("an updated renderer is installed under a new name and the old file is gone; the same one keeps its name", () => {
    const prefix = tempDir(), source = tempDir();
    dirs.push(prefix, source);
    fs.cpSync(LABEXTENSION_SRC, source, { recursive: true });
    const where = { kind: "prefix" as const, dir: prefix };
    installLabextension(where, source);
    const first = installed(prefix);
    installLabextension(where, source);
    expect(installed(prefix).load).toBe(first.load);
    const entry = path.join(source, "static", "remoteEntry.js");
    fs.appendFileSync(entry, "\n// a newer renderer\n");
    installLabextension(where, source);
    const second = installed(prefix);
    expect(second.load).not.toBe(first.load);
    expect(second.files).not.toContain(path.basename(first.load));
    expect(second.files).toContain(path.basename(second.load));
    expect(second.hashOk.filter((h) => !h.ok)).toEqual([]);
  });

  it("a source package.json without jupyterlab._build.load, or an entry without the plotly line, is refused by name", () => {
    const prefix = tempDir(), source = tempDir();
    dirs.push(prefix, source);
    fs.cpSync(LABEXTENSION_SRC, source, { recursive: true });
    const where = { kind: "prefix" as const, dir: prefix };
    const pkgFile = path.join(source, "package.json");
    const pkg = JSON.parse(fs.readFileSync(pkgFile, "utf8"));
    fs.writeFileSync(pkgFile, JSON.stringify({ ...pkg, jupyterlab: { mimeExtension: true } }));
    expect(() => installLabextension(where, source)).toThrow(new RegExp(`${pkgFile.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: jupyterlab\\._build\\.load must name`));
    fs.writeFileSync(pkgFile, JSON.stringify(pkg));
    fs.writeFileSync(path.join(source, "static", "remoteEntry.js"), "(function () {})();\n");
    expect(() => installLabextension(where, source)).toThrow(/remoteEntry\.js: expected the line var PLOTLY_FILE = "plotly\.min\.js";/);
  });

  it.skipIf(!fs.existsSync(VENV_JUPYTER))("JupyterLab lists the installed extension as enabled and OK", () => {
    const prefix = tempDir();
    dirs.push(prefix);
    execFileSync(process.execPath, [KERNEL_MAIN, "install", "--prefix", prefix]);
    const r = spawnSync(VENV_JUPYTER, ["labextension", "list"], { env: jupyterEnv(path.join(prefix, "share", "jupyter"), prefix), encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    // jupyter labextension list reports on stderr, in colour.
    const report = `${r.stdout}${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, "");
    expect(report).toMatch(new RegExp(`${LABEXTENSION_NAME} v\\d+\\.\\d+\\.\\d+ enabled\\s+OK`));
  });
});
