/**
 * npm run bench: runs each area's benchmark in order. Every figure is printed beside a
 * limit measured in the same run (usually the memory copy bandwidth), with the ratio.
 * `npm run bench -- --scale 9b` runs only the real-scale decode benchmark (bench/scale.ts).
 */

const MODULES = ["./io", "./linear", "./model", "./lens", "./sampling", "./quant", "./widgets"];

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const scale = args.indexOf("--scale");
  if (scale >= 0) {
    if (args[scale + 1] !== "9b") throw new Error(`bench: --scale takes 9b, got ${JSON.stringify(args[scale + 1] ?? "")}`);
    await (require("./scale") as { run(): Promise<void> }).run();
    return;
  }
  const only = args;
  for (const m of MODULES) {
    if (only.length && !only.some((o) => m.includes(o))) continue;
    const mod = require(m) as { run(): Promise<void> };
    await mod.run();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
