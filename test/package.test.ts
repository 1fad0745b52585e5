// The package as others get it: `import "nemotron-lab"` by name works from a script inside the
// repo (self-reference through package.json "exports") and from a project that installed the
// packed tarball, with types; deep paths are not exported; the installed copy uses the packed
// prebuilt addon instead of compiling (tools/prebuild.js, tools/native-build.js).
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import { describe, expect, it } from "vitest";
import { ROOT, fixture, tempDir } from "./helpers";

const FIXTURES = fixture("package");
const EXPECTED = { e4m3Max: 0x7e, "nemotron-lab/dist/src/io/safetensors": "ERR_PACKAGE_PATH_NOT_EXPORTED", "nemotron-lab/src/index": "ERR_PACKAGE_PATH_NOT_EXPORTED" };

function node(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, args, { cwd, encoding: "utf8", timeout: 120_000 });
  expect(r.status, `${args.join(" ")}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

function typecheck(tsc: string, file: string, cwd: string) {
  node([tsc, "--noEmit", "--strict", "--module", "node16", "--moduleResolution", "node16", "--types", "node", file], cwd);
}

describe("package.json exports", () => {
  it("a script in the project's own folder imports the package by name (CommonJS, ESM, types)", () => {
    const version = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")).version;
    expect(JSON.parse(node([path.join(FIXTURES, "import-by-name.cjs")], ROOT))).toEqual({ ...EXPECTED, version });
    expect(JSON.parse(node([path.join(FIXTURES, "import-by-name.mjs")], ROOT))).toEqual({ e4m3Max: 0x7e, checkpoint: "function" });
    typecheck(path.join(ROOT, "node_modules", "typescript", "bin", "tsc"), path.join(FIXTURES, "import-by-name.ts"), ROOT);
  });

  it("the README's kernel install command in the clone runs the clone's own build, nothing rebuilt", () => {
    const prefix = tempDir();
    const r = spawnSync("npm", ["run", "--silent", "kernel-install", "--", "--prefix", prefix], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Installed kernelspec nemotron-lab/);
    expect(r.stdout + r.stderr).not.toMatch(/node-gyp|native addon from source|tsc/);
    const spec = JSON.parse(fs.readFileSync(path.join(prefix, "share", "jupyter", "kernels", "nemotron-lab", "kernel.json"), "utf8"));
    expect(spec.argv.join(" ")).toContain(path.join(ROOT, "dist"));
  });

  it("a project that installs the packed tarball gets the prebuilt addon, the command and the same exports", () => {
    const work = tempDir();
    node([path.join(ROOT, "tools", "prebuild.js")], ROOT);
    // dist/ is current (npm test compiles first), so pack without re-running tsc under the other suites.
    const pack = spawnSync("npm", ["pack", "--ignore-scripts", "--pack-destination", work, "--silent"], { cwd: ROOT, encoding: "utf8" });
    expect(pack.status, pack.stderr).toBe(0);
    const tarball = path.join(work, pack.stdout.trim().split("\n").pop()!);
    // Everything a source build needs travels too (where no prebuild matches): git's files under native/.
    const packed = new Set(spawnSync("tar", ["tzf", tarball], { encoding: "utf8" }).stdout.split("\n").map((f) => f.replace(/^package\//, "")));
    const tracked = spawnSync("git", ["ls-files", "native"], { cwd: ROOT, encoding: "utf8" }).stdout.trim().split("\n");
    expect(tracked.filter((f) => !f.startsWith("native/dev/") && !packed.has(f))).toEqual([]);
    const app = path.join(work, "app");
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", private: true }));
    const install = spawnSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--foreground-scripts", tarball],
      { cwd: app, encoding: "utf8", timeout: 300_000 });
    expect(install.status, `${install.stdout}\n${install.stderr}`).toBe(0);
    expect(install.stdout).toMatch(/nemotron-lab: using the prebuilt native addon native\/prebuilds\/linux-x64\/nemotron_lab\.napi\.node/);
    expect(install.stdout).not.toMatch(/from source/);
    for (const f of fs.readdirSync(FIXTURES)) fs.copyFileSync(path.join(FIXTURES, f), path.join(app, f));
    expect(JSON.parse(node(["import-by-name.cjs"], app))).toEqual({ ...EXPECTED, version: expect.any(String) });
    expect(JSON.parse(node(["import-by-name.mjs"], app))).toEqual({ e4m3Max: 0x7e, checkpoint: "function" });
    typecheck(path.join(app, "node_modules", "typescript", "bin", "tsc"), "import-by-name.ts", app);
    const installed = path.join(app, "node_modules", "nemotron-lab");
    expect(fs.existsSync(path.join(installed, "native", "build"))).toBe(false);
    expect(node([path.join(app, "node_modules", ".bin", "nemotron-lab"), "inspect", "--help"], app)).toMatch(/^nemotron-lab inspect — /);
  }, 400_000);
});
