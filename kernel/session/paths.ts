/**
 * Where this package lives on disk, so cells can import "nemotron-lab" (code and types) from a
 * notebook in any folder, and @types/node always resolves.
 */
import * as fs from "fs";
import * as path from "path";

/** The nearest folder above this file whose package.json is named nemotron-lab. */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pj = path.join(dir, "package.json");
    if (fs.existsSync(pj)) {
      try {
        if ((JSON.parse(fs.readFileSync(pj, "utf8")) as { name?: string }).name === "nemotron-lab") return dir;
      } catch {
        // not ours; keep climbing
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`cannot find the nemotron-lab package above ${__dirname}`);
    dir = up;
  }
}

export const PACKAGE_NAME = "nemotron-lab";

/** The compiled entry point (dist/src/index.js) and its declarations. */
export function packageEntry(): { js: string; dts: string } {
  const root = packageRoot();
  return { js: path.join(root, "dist", "src", "index.js"), dts: path.join(root, "dist", "src", "index.d.ts") };
}

/** The folder holding @types/node: ours, beside the package, whatever the notebook has. */
export function typeRoots(): string[] {
  const roots: string[] = [];
  let dir = packageRoot();
  for (;;) {
    const r = path.join(dir, "node_modules", "@types");
    if (fs.existsSync(path.join(r, "node", "package.json"))) roots.push(r);
    const up = path.dirname(dir);
    if (up === dir || roots.length) break;
    dir = up;
  }
  // tslab ships its own @types/node; a last resort if ours was deduplicated away.
  if (!roots.length) roots.push(path.join(path.dirname(require.resolve("tslab/package.json")), "node_modules", "@types"));
  return roots;
}
