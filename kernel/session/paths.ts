/**
 * Where this package lives on disk, so cells can import "nemotron-lab" (code and types) from a
 * notebook in any folder, and @types/node always resolves.
 */
import * as fs from "fs";
import * as path from "path";
import { packageRoot } from "../../src/util/package-root";

export { packageRoot };

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
