/**
 * `nemotron-lab run`: notebooks executed headlessly on the kernel's session, written back as
 * nbformat 4.5 (checked with Python's nbformat) and as HTML pages; --param, errors, the per-cell
 * timeout and Ctrl-C. Fixture notebooks are written here, one cell per behaviour.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { beforeAll, describe, expect, it } from "vitest";
import { CLI_MAIN, cli, ROOT, tempDir } from "./helpers";
import { hasPythonModule, noVenvReason, runPython, warnSkip } from "./helpers/python";

type Json = Record<string, any>;

function notebook(cells: Array<string | { source: string; tags?: string[] }>, markdown = "# Fixture notebook\n\nSome *markdown* with math $x^2$."): Json {
  return {
    nbformat: 4, nbformat_minor: 4,
    metadata: { kernelspec: { name: "nemotron-lab", display_name: "TypeScript (nemotron-lab)", language: "typescript" } },
    cells: [
      { cell_type: "markdown", metadata: {}, source: markdown },
      ...cells.map((c) => {
        const { source, tags } = typeof c === "string" ? { source: c, tags: undefined } : c;
        return { cell_type: "code", metadata: tags ? { tags } : {}, source, outputs: [], execution_count: null };
      }),
    ],
  };
}

function write(dir: string, name: string, nb: Json): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, JSON.stringify(nb));
  return file;
}

const read = (file: string): Json => JSON.parse(fs.readFileSync(file, "utf8"));
const text = (v: unknown) => (Array.isArray(v) ? v.join("") : String(v ?? ""));
const codeCells = (nb: Json) => nb.cells.filter((c: Json) => c.cell_type === "code");

// A 1x1 PNG.
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

const OUTPUTS = notebook([
  `const LABEL: string = "default";   // the parameter\nconst N = 3;\nconsole.log(\`label \${LABEL}, n \${N}\`);`,
  `console.log("to stdout");\nconsole.error("\\x1b[31mred\\x1b[0m to stderr");\nconst written = process.stdout.write("overwritten\\rfinal\\n");`,
  `const handle = display({ "text/plain": "v1", "text/html": "<b>v1</b>" }, { raw: true, displayId: "d1" });`,
  `handle.update({ "text/plain": "v2", "text/html": "<b id=updated>v2</b>" }, { raw: true });\nconsole.log("updated");`,
  `console.log("cleared");\nclearOutput({ wait: true });\nconsole.log("kept");`,
  `import * as lab from "nemotron-lab";\nnew lab.Figure([{ type: "bar", x: [1, 2, 3], y: [3, 1, 2] }], { title: { text: "bars" } })`,
  `new lab.SortableTable([{ header: "a" }, { header: "b" }], [[1, 2], [3, 4]], "a table")`,
  `display({ "image/png": "${PNG}", "text/plain": "a pixel" }, { raw: true });`,
  { source: `throw new RangeError("an expected failure");`, tags: ["raises-exception"] },
  `N * 2`,
]);

describe("nemotron-lab run", () => {
  let dir: string, out: string, result: ReturnType<typeof cli>;
  beforeAll(() => {
    dir = tempDir("nl-run-");
    out = path.join(dir, "out");
    write(dir, "outputs.ipynb", OUTPUTS);
    result = cli(["run", path.join(dir, "outputs.ipynb"), "--out", out, "--param", "LABEL=from the command line", "--param", "N=5"]);
  });

  it("executes every cell and collects each kind of output as Jupyter would", () => {
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/outputs \[10\/10\] ok/);   // a line per cell
    const nb = read(path.join(out, "outputs.ipynb"));
    const cells = codeCells(nb);
    expect(cells.map((c: Json) => c.execution_count)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // --param replaced the values in the first cell, and the notebook records them.
    expect(text(cells[0].source)).toContain(`const LABEL: string = "from the command line";   // the parameter`);
    expect(text(cells[0].outputs[0].text)).toBe("label from the command line, n 5\n");
    expect(nb.metadata["nemotron-lab"].parameters).toEqual({ LABEL: "from the command line", N: "5" });
    // Streams by name, in order.
    expect(cells[1].outputs.map((o: Json) => [o.name, text(o.text)])).toEqual([
      ["stdout", "to stdout\n"], ["stderr", "\x1b[31mred\x1b[0m to stderr\n"], ["stdout", "overwritten\rfinal\n"]]);
    // update_display_data rewrote the earlier cell's output; clear_output(wait) kept only what came after.
    expect(cells[2].outputs[0].data["text/html"]).toBe("<b id=updated>v2</b>");
    expect(cells[4].outputs.map((o: Json) => text(o.text))).toEqual(["kept\n"]);
    expect(cells[5].outputs[0].data["application/vnd.plotly.v1+json"].data[0].type).toBe("bar");
    expect(cells[6].outputs[0].data["text/html"]).toContain("<table");
    expect(cells[7].outputs[0].data["image/png"]).toBe(PNG);
    // The tagged cell failed, and the run went on.
    expect(cells[8].outputs[0]).toMatchObject({ output_type: "error", ename: "RangeError", evalue: "an expected failure" });
    expect(cells[9].outputs[0]).toMatchObject({ output_type: "execute_result", execution_count: 10, data: { "text/plain": "10" } });
    expect(cells.every((c: Json) => typeof c.id === "string" && c.metadata.execution["shell.execute_reply"])).toBe(true);
  });

  const venv = hasPythonModule("nbformat");
  if (!venv) warnSkip("nbformat schema validation", noVenvReason("nbformat"));
  it.skipIf(!venv)("writes nbformat 4.5 that Python's nbformat validates", () => {
    const r = runPython(
      "import json, sys, nbformat\n" +
      "nb = nbformat.read(json.load(sys.stdin)['file'], as_version=nbformat.NO_CONVERT)\n" +
      "nbformat.validate(nb)\n" +
      "print(json.dumps({'v': [nb.nbformat, nb.nbformat_minor], 'ids': len({c.id for c in nb.cells}), 'n': len(nb.cells)}))",
      { file: path.join(out, "outputs.ipynb") });
    expect(r.v).toEqual([4, 5]);
    expect(r.ids).toBe(r.n);
  });

  it("writes a page per notebook and an index, plotly.js once beside them", () => {
    const page = fs.readFileSync(path.join(out, "outputs.html"), "utf8");
    expect(page).toContain(`<script src="assets/plotly.min.js"></script>`);
    expect(page.length).toBeLessThan(200_000);            // the 4.8 MB library is referenced, not inlined
    expect(fs.statSync(path.join(out, "assets", "plotly.min.js")).size).toBeGreaterThan(1_000_000);
    expect(page).toMatch(/<h1[^>]*>Fixture notebook<\/h1>/);              // markdown-it
    expect(page).toContain(`class="katex"`);                              // math through KaTeX
    expect(page).toMatch(/<span class="hljs-keyword">const<\/span>/);     // highlight.js
    expect(page).toContain(`<span class="ansi-red-fg">red</span>`);       // anser
    expect(page).toContain(`<pre class="stream stdout">final\n</pre>`);  // "\r" overwrote the line
    expect(page).toContain(`class="nl-plot"`);
    expect(page).toContain(`src="data:image/png;base64,${PNG}"`);
    expect(page).toMatch(/<pre class="error-output">[\s\S]*RangeError/);
    const index = fs.readFileSync(path.join(out, "index.html"), "utf8");
    expect(index).toContain(`href="outputs.html"`);
    expect(index).toContain("Fixture notebook");
  });

  it("on an error writes the page anyway and exits 1 naming the notebook, the cell and the error", () => {
    const file = write(dir, "fails.ipynb", notebook([`const A = 1;`, `console.log("before");\nconst o: any = null;\no.boom;`, `console.log("never");`]));
    const r = cli(["run", file, "--out", out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file}: error in cell 2: TypeError: Cannot read properties of null (reading 'boom')`);
    expect(r.stdout).toMatch(/fails \[2\/3\] ERROR/);
    const cells = codeCells(read(path.join(out, "fails.ipynb")));
    expect(cells[1].outputs.map((o: Json) => o.output_type)).toEqual(["stream", "error"]);
    expect(cells[1].outputs[1].traceback.join("\n")).toMatch(/cell 2:3/);
    expect(cells[2].execution_count).toBeNull();
    const page = fs.readFileSync(path.join(out, "fails.html"), "utf8");
    expect(page).toMatch(/class="banner"[\s\S]*href="#cell-2"[\s\S]*TypeError/);
    expect(page).toMatch(/class="cell code failed" id="cell-2"/);
  });

  it("stops a cell past --timeout, synchronous, uninstrumented or awaiting, and goes on to the next notebook", () => {
    const sync = write(dir, "hang-sync.ipynb", notebook([`let i = 0;\nwhile (true) i++;`]));
    // code the kernel cannot instrument: only SIGINT stops it, and the next cell must not see that signal
    const opaque = write(dir, "hang-eval.ipynb", notebook([`eval("while (true) {}");`]));
    const after = write(dir, "after.ipynb", notebook([`const t0 = Date.now();\nwhile (Date.now() - t0 < 300) {}\nconsole.log("fine");`]));
    const wait = write(dir, "hang-async.ipynb", notebook([`await new Promise(() => undefined);`, `console.log("not reached");`]));
    const r = cli(["run", sync, opaque, after, wait, "--out", out, "--timeout", "1"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`${sync}: error in cell 1: CellTimeoutError: cell 1 ran longer than the 1 s timeout`);
    expect(r.stderr).toContain(`${opaque}: error in cell 1: CellTimeoutError`);
    expect(r.stderr).not.toContain(after);
    expect(r.stderr).toContain(`${wait}: error in cell 1: CellTimeoutError`);
    expect(fs.existsSync(path.join(out, "hang-async.html"))).toBe(true);
  });

  it("Ctrl-C stops the running cell and the run, writes what ran, and exits 130", async () => {
    const marker = path.join(dir, "started");
    const slow = write(dir, "slow.ipynb", notebook([
      `require("fs").writeFileSync(${JSON.stringify(marker)}, "1");\nwhile (true) {}`, `console.log("not reached");`]));
    const next = write(dir, "next.ipynb", notebook([`console.log("not run either");`]));
    const child = spawn(process.execPath, [CLI_MAIN, "run", slow, next, "--out", out], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    for (let i = 0; i < 600 && !fs.existsSync(marker); i++) await new Promise((r) => setTimeout(r, 100));
    expect(fs.existsSync(marker)).toBe(true);
    child.kill("SIGINT");
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    expect(code).toBe(130);
    expect(stderr).toContain(`${slow}: interrupted in cell 1: KeyboardInterrupt`);
    const cells = codeCells(read(path.join(out, "slow.ipynb")));
    expect(cells[0].outputs.at(-1)).toMatchObject({ output_type: "error", ename: "KeyboardInterrupt" });
    expect(cells[1].execution_count).toBeNull();
    expect(fs.existsSync(path.join(out, "next.ipynb"))).toBe(false);
  }, 90_000);

  it("bad input: an unknown --param, a broken file, a missing notebook", () => {
    const file = path.join(dir, "outputs.ipynb");
    const p = cli(["run", file, "--out", out, "--param", "NOPE=1"]);
    expect(p.code).toBe(1);
    expect(p.stderr).toContain("--param NOPE: no code cell declares `const NOPE = ...` (its consts: LABEL, N, written, handle)");
    fs.writeFileSync(path.join(dir, "broken.ipynb"), "{ not json");
    const b = cli(["run", path.join(dir, "broken.ipynb"), "--out", out]);
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/broken\.ipynb: not JSON/);
    expect(cli(["run", path.join(dir, "missing.ipynb")]).stderr).toMatch(/missing\.ipynb: no such notebook/);
    expect(cli(["run"]).code).toBe(2);
    expect(cli(["run", file, "--timeout", "soon"]).stderr).toMatch(/--timeout must be a number/);
  });
});
