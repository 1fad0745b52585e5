#!/usr/bin/env node
// Puts this machine's build of the addon into native/prebuilds/<platform>-<arch>/, named as
// prebuildify names N-API builds, so the packed package installs without compiling on this
// platform (node-gyp-build finds it: src/backend/native.ts, tools/native-build.js). Run by
// `npm pack` / `npm publish` (prepack). It copies the current build rather than running
// prebuildify, which downloads Node headers for its target and so cannot run offline; the addon
// uses N-API 8 only, so one binary serves every Node version >= 20 (package.json engines).
"use strict";
const fs = require("fs");
const path = require("path");
const { spawnSync } = require("child_process");

const nativeDir = path.resolve(__dirname, "..", "native");
const built = path.join(nativeDir, "build", "Release", "nemotron_lab.node");

if (!fs.existsSync(built)) {
  const r = spawnSync(process.execPath, [path.join(__dirname, "native-build.js")], { stdio: "inherit", env: { ...process.env, NEMOTRON_LAB_BUILD_FROM_SOURCE: "1" } });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const dir = path.join(nativeDir, "prebuilds", `${process.platform}-${process.arch}`);
fs.rmSync(path.join(nativeDir, "prebuilds"), { recursive: true, force: true });
fs.mkdirSync(dir, { recursive: true });
const out = path.join(dir, "nemotron_lab.napi.node");
fs.copyFileSync(built, out);
console.log(`nemotron-lab: prebuilt ${path.relative(path.dirname(nativeDir), out)} (${(fs.statSync(out).size / 1e6).toFixed(1)} MB)`);
