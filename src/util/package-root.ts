/** Where this package lives on disk (the addon, the bundled tiny model and the kernel find themselves from it). */
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
    if (up === dir) throw new Error(`nemotron-lab: cannot find the package root above ${__dirname}`);
    dir = up;
  }
}
