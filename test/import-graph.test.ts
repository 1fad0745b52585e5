// The folders of src/ form layers: a folder may import from another only if that one does
// not (directly or through others) import back. This reads every relative import in src/
// (type-only ones included) and fails naming the first circle of folders it finds.
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";

const SRC = path.join(__dirname, "..", "src");

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sources(p) : e.name.endsWith(".ts") ? [p] : [];
  });
}

/** The top folder of src/ a file is in ("" for files directly in src/, such as index.ts). */
function folderOf(file: string): string {
  const rel = path.relative(SRC, file).split(path.sep);
  return rel.length > 1 ? rel[0] : "";
}

/** folder -> folders it imports from (itself and src/index.ts left out). */
export function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  const spec = /(?:^|\n)\s*(?:import|export)\b[^;'"]*?from\s*["'](\.[^"']+)["']|require\(\s*["'](\.[^"']+)["']\s*\)|import\(\s*["'](\.[^"']+)["']\s*\)/g;
  for (const file of sources(SRC)) {
    const from = folderOf(file);
    if (!from) continue;
    const text = fs.readFileSync(file, "utf8");
    for (const m of text.matchAll(spec)) {
      const target = path.resolve(path.dirname(file), m[1] ?? m[2] ?? m[3]);
      if (!target.startsWith(SRC + path.sep)) continue;  // kernel/ and the rest sit above src/
      const to = folderOf(target + ".ts");
      if (!to || to === from) continue;
      if (!graph.has(from)) graph.set(from, new Set());
      graph.get(from)!.add(to);
    }
  }
  return graph;
}

/** One circle of folders (a -> b -> ... -> a), or undefined when the graph has none. */
export function findCycle(graph: Map<string, Set<string>>): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    state.set(n, "open");
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === "open") return [...stack.slice(stack.indexOf(m)), m];
      if (!state.has(m)) {
        const c = visit(m);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(n, "done");
    return undefined;
  };
  for (const n of [...graph.keys()].sort()) {
    if (!state.has(n)) {
      const c = visit(n);
      if (c) return c;
    }
  }
  return undefined;
}

describe("folder imports of src/", () => {
  it("finds a circle when there is one (the check can fail)", () => {
    const g = new Map([["a", new Set(["b"])], ["b", new Set(["c"])], ["c", new Set(["a"])]]);
    expect(findCycle(g)).toEqual(["a", "b", "c", "a"]);
    expect(findCycle(new Map([["a", new Set(["b"])], ["b", new Set(["c"])]]))).toBeUndefined();
  });

  it("reads the real imports (io uses tensor, quant uses model)", () => {
    const g = folderGraph();
    expect(g.get("io")?.has("tensor")).toBe(true);
    expect(g.get("quant")?.has("model")).toBe(true);
  });

  it("has no circle between folders", () => {
    const cycle = findCycle(folderGraph());
    expect(cycle, cycle && `folders import each other: ${cycle.join(" -> ")}`).toBeUndefined();
  });

  it("io knows file formats, not the model: it imports nothing above tensor/ and util/", () => {
    const io = [...(folderGraph().get("io") ?? [])].sort();
    expect(io.filter((f) => !["backend", "tensor", "util"].includes(f))).toEqual([]);
  });
});
