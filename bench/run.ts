/**
 * npm run bench: runs each area's benchmark in order. Every figure is printed beside a
 * limit measured in the same run (usually the memory copy bandwidth), with the ratio.
 */

const MODULES = ["./io", "./model", "./lens", "./sampling", "./quant", "./widgets"];

async function main(): Promise<void> {
  const only = process.argv.slice(2);
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
