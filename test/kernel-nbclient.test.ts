/**
 * nbclient (what `jupyter nbconvert --execute` uses) runs a small notebook on the installed
 * kernel; the saved outputs must hold streams, rich results, displays, a typed import of
 * nemotron-lab from the notebook's own folder and an error pointing at its cell line.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { installSpec, jupyterEnv, PYTHON, pythonHas, ROOT } from "./kernel/helpers";

const ok = pythonHas(["nbclient", "nbformat"], "nbclient notebook execution");

interface Output { output_type: string; name?: string; text?: string | string[]; data?: Record<string, unknown>; ename?: string; evalue?: string; traceback?: string[]; execution_count?: number }
interface Cell { cell_type: string; source: string | string[]; outputs?: Output[]; execution_count?: number | null }

function code(source: string): Cell {
  return { cell_type: "code", source, outputs: [], execution_count: null, metadata: {} } as Cell;
}

const joined = (t: string | string[] | undefined) => (Array.isArray(t) ? t.join("") : t ?? "");

describe.skipIf(!ok)("nbclient executes a notebook", () => {
  it("produces the expected outputs", () => {
    const { jupyterPath, dir } = installSpec();
    try {
      const nbDir = path.join(dir, "notebooks", "deep", "folder");
      fs.mkdirSync(nbDir, { recursive: true });
      const cells: Cell[] = [
        { cell_type: "markdown", source: "# nemotron-lab kernel test", metadata: {} } as Cell,
        code('import * as lab from "nemotron-lab";\nconst n: number = 21;\nconsole.log("twice is", n * 2);'),
        code("({ [lab.DISPLAY_SYMBOL]() { return { 'text/html': '<table><tr><td>1</td></tr></table>' }; } })"),
        code('display({ "text/markdown": "**bold**" });\nlab.display("plain text");'),
        code("const big = n * 1000;\nbig"),
        code("function fail(): never {\n  throw new TypeError('nope');\n}\nfail();"),
        code("big + 1"),
      ];
      const nb = { cells, metadata: { kernelspec: { name: "nemotron-lab", display_name: "TypeScript (nemotron-lab)", language: "typescript" } }, nbformat: 4, nbformat_minor: 5 };
      const src = path.join(nbDir, "test.ipynb");
      const dst = path.join(nbDir, "out.ipynb");
      fs.writeFileSync(src, JSON.stringify(nb));
      const r = spawnSync(PYTHON, [path.join(ROOT, "test", "kernel", "run_notebook.py"), src, dst], {
        env: jupyterEnv(jupyterPath, dir), encoding: "utf8", timeout: 100_000,
      });
      expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
      const out = JSON.parse(fs.readFileSync(dst, "utf8")) as { cells: Cell[]; metadata: { language_info?: { name: string; file_extension: string } } };
      expect(out.metadata.language_info?.name).toBe("typescript");
      const [, c1, c2, c3, c4, c5, c6] = out.cells;
      expect(c1.outputs).toEqual([expect.objectContaining({ output_type: "stream", name: "stdout" })]);
      expect(joined(c1.outputs![0].text)).toBe("twice is 42\n");
      expect(c2.outputs![0].output_type).toBe("execute_result");
      expect(joined(c2.outputs![0].data!["text/html"] as string)).toContain("<table>");
      expect(c3.outputs!.map((o) => o.output_type)).toEqual(["display_data", "display_data"]);
      expect(joined(c3.outputs![0].data!["text/markdown"] as string)).toBe("**bold**");
      expect(joined(c3.outputs![1].data!["text/plain"] as string)).toBe("plain text");
      expect(joined(c4.outputs![0].data!["text/plain"] as string)).toBe("21000");
      expect(c4.execution_count).toBe(4);
      const err = c5.outputs!.find((o) => o.output_type === "error")!;
      expect(err.ename).toBe("TypeError");
      expect(err.evalue).toBe("nope");
      expect(err.traceback!.join("\n")).toMatch(/cell 5:2:\d+/);
      expect(joined(c6.outputs![0].data!["text/plain"] as string)).toBe("21001");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
