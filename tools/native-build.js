#!/usr/bin/env node
// The package's install step for the native addon. An installed copy uses the prebuilt binary
// packed in native/prebuilds/ (tools/prebuild.js, at npm pack) when one matches this platform
// and loads; node-gyp-build decides which matches. Otherwise, and always with
// NEMOTRON_LAB_BUILD_FROM_SOURCE=1, it builds from source with node-gyp, saying so first,
// CUDA kernels included where a CUDA toolkit is found (native/find-cuda.js). A clone that is
// already configured builds incrementally (make rebuilds only what changed).
"use strict";
const fs = require("fs");
const path = require("path");
const { spawnSync } = require("child_process");

const root = path.resolve(__dirname, "..");
const nativeDir = path.join(root, "native");

function prebuilt() {
  if (process.env.NEMOTRON_LAB_BUILD_FROM_SOURCE) return undefined;
  try {
    const file = require("node-gyp-build").resolve(nativeDir);
    if (!file.includes(`${path.sep}prebuilds${path.sep}`)) return undefined;  // a source build: keep it current
    require(file);  // loads on this machine (glibc, CPU)
    return file;
  } catch {
    return undefined;
  }
}

/** node-gyp's script: the one npm runs install scripts with, else the one npm bundles. */
function nodeGyp() {
  if (process.env.npm_config_node_gyp) return process.env.npm_config_node_gyp;
  try {
    return require.resolve("node-gyp/bin/node-gyp.js");
  } catch {}
  const npmRoot = spawnSync("npm", ["root", "-g"], { encoding: "utf8" }).stdout?.trim();
  const bundled = npmRoot && path.join(npmRoot, "npm", "node_modules", "node-gyp", "bin", "node-gyp.js");
  return bundled && fs.existsSync(bundled) ? bundled : undefined;
}

function main() {
  const file = prebuilt();
  if (file) {
    console.log(`nemotron-lab: using the prebuilt native addon ${path.relative(root, file)}`);
    return 0;
  }
  const cuda = spawnSync(process.execPath, [path.join(nativeDir, "find-cuda.js")], { encoding: "utf8" }).stdout.trim();
  // make tracks sources, not the build rules: an incremental build only when the rules, the
  // CUDA toolkit, Node and the list of source files (binding.gyp globs them) are those of the
  // last build (its stamp), else a rebuild.
  const stampFile = path.join(nativeDir, "build", "nemotron-lab-inputs.json");
  const stamp = JSON.stringify({ node: process.version, cuda, rules: ["binding.gyp", "find-cuda.js", "nvcc.js"]
    .map((f) => (fs.existsSync(path.join(nativeDir, f)) ? fs.readFileSync(path.join(nativeDir, f), "utf8") : "")),
  sources: fs.readdirSync(path.join(nativeDir, "src"), { recursive: true }).map(String).sort() });
  const configured = fs.existsSync(path.join(nativeDir, "build", "Makefile")) && fs.existsSync(stampFile) &&
    fs.readFileSync(stampFile, "utf8") === stamp;
  console.log(`nemotron-lab: ${configured ? "updating" : "building"} the native addon from source (${
    configured ? "only what changed" : "a few minutes"}; ${cuda ? `CUDA kernels too, from ${cuda}` : "CPU kernels only, no CUDA toolkit found"})`);
  const gyp = nodeGyp();
  const [cmd, pre] = gyp ? [process.execPath, [gyp]] : ["node-gyp", []];
  const run = (step) => spawnSync(cmd, [...pre, step, "--directory", nativeDir, "-j", process.env.JOBS || "max"], { stdio: "inherit", cwd: root });
  let r = run(configured ? "build" : "rebuild");
  if (!r.error && r.status !== 0 && configured) {
    console.log("nemotron-lab: the incremental build failed (a build folder configured elsewhere?); rebuilding from scratch");
    r = run("rebuild");
  }
  if (!r.error && r.status === 0) fs.writeFileSync(stampFile, stamp);
  if (r.error) {
    console.error(`nemotron-lab: cannot run node-gyp (${r.error.message}); it needs python3, make and a C++17 compiler`);
    return 1;
  }
  return r.status ?? 1;
}

process.exitCode = main();
