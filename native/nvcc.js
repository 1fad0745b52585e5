// Runs nvcc for binding.gyp's CUDA rule with ptxas's resource report on (-Xptxas -v), keeps that
// report beside the object (<object>.ptxas.txt, read by test/cuda-static.test.ts: no kernel may
// spill registers) and prints only what is not the report, so `npm install` stays quiet.
// Usage: node nvcc.js NVCC ARGS... -o OUTPUT
const { spawnSync } = require("child_process");
const fs = require("fs");

const [nvcc, ...args] = process.argv.slice(2);
const out = args[args.indexOf("-o") + 1];
const r = spawnSync(nvcc, [...args, "-Xptxas", "-v"], { encoding: "utf8", maxBuffer: 64 << 20 });
if (r.error) {
  console.error(`nvcc.js: cannot run ${nvcc}: ${r.error.message}`);
  process.exit(1);
}
const report = (r.stderr || "").split("\n");
const isReport = (l) => /^ptxas info\s*:|^\s+\d+ bytes stack frame|^\s*$/.test(l);
if (r.status === 0) fs.writeFileSync(`${out}.ptxas.txt`, report.filter(isReport).join("\n"));
const rest = report.filter((l) => !isReport(l)).join("\n").trim();
if (r.stdout && r.stdout.trim()) process.stdout.write(r.stdout);
if (rest) console.error(rest);
process.exit(r.status ?? 1);
