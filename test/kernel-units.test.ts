/**
 * The kernel's pure parts without a client: wire framing and signatures, the kernelspec and its
 * logo, is_complete, history queries, and the display/progress helpers outside a kernel.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { describe, expect, it, vi } from "vitest";
import { decode, encode, Signer, WireError } from "../kernel/protocol/wire";
import { makeMessage } from "../kernel/protocol/messages";
import { History } from "../kernel/session/history";
import { codePointToUtf16, isComplete, utf16ToCodePoint } from "../kernel/session/language";
import { clearOutput, display, DISPLAY_SYMBOL, mimeBundleOf, setDisplaySink } from "../src/display/display";
import { plotlyBundle } from "../src/viz/plotly";
import { progress, setProgressSink } from "../src/util/progress";
import { KERNEL_MAIN } from "./kernel/helpers";

function kind(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    return e instanceof WireError ? e.kind : `other: ${String(e)}`;
  }
  return "none";
}

describe("wire", () => {
  const msg = makeMessage("execute_request", { code: "1 + 1" }, {}, "s1");
  it("round-trips a signed message with identities and buffers", () => {
    const signer = new Signer("secret");
    const m = { ...msg, buffers: [new Uint8Array([1, 2, 3])] };
    const frames = encode(m, signer, [Buffer.from("id1")]);
    const d = decode(frames, signer);
    expect(d.identities.map(String)).toEqual(["id1"]);
    expect(d.msg.header.msg_id).toBe(msg.header.msg_id);
    expect(d.msg.content).toEqual({ code: "1 + 1" });
    expect([...d.msg.buffers[0]]).toEqual([1, 2, 3]);
  });
  it("rejects a wrong, missing or tampered signature before parsing", () => {
    const frames = encode(msg, new Signer("secret"));
    expect(kind(() => decode(frames, new Signer("other")))).toBe("bad-signature");
    const unsigned = encode(msg, new Signer(""));
    expect(kind(() => decode(unsigned, new Signer("secret")))).toBe("bad-signature");
    const tampered = [...frames];
    tampered[tampered.length - 1] = Buffer.from(JSON.stringify({ code: "evil()" }));
    expect(kind(() => decode(tampered, new Signer("secret")))).toBe("bad-signature");
  });
  it("accepts unsigned messages when the key is empty", () => {
    const frames = encode(msg, new Signer(""));
    expect(frames[1].length).toBe(0);
    expect(decode(frames, new Signer("")).msg.content).toEqual({ code: "1 + 1" });
  });
  it("names each malformed shape", () => {
    const s = new Signer("");
    expect(kind(() => decode([Buffer.from("x")], s))).toBe("no-delimiter");
    expect(kind(() => decode([Buffer.from("<IDS|MSG>"), Buffer.from("")], s))).toBe("too-few-frames");
    const bad = [Buffer.from("<IDS|MSG>"), Buffer.from(""), Buffer.from("{"), Buffer.from("{}"), Buffer.from("{}"), Buffer.from("{}")];
    expect(kind(() => decode(bad, s))).toBe("bad-json");
    const noType = [Buffer.from("<IDS|MSG>"), Buffer.from(""), Buffer.from("{}"), Buffer.from("{}"), Buffer.from("{}"), Buffer.from("{}")];
    expect(kind(() => decode(noType, s))).toBe("bad-header");
  });
});

describe("kernelspec install", () => {
  it("writes kernel.json and PNG logos under --prefix", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nl-spec-"));
    try {
      execFileSync(process.execPath, [KERNEL_MAIN, "install", "--prefix", dir]);
      const spec = path.join(dir, "share", "jupyter", "kernels", "nemotron-lab");
      const json = JSON.parse(fs.readFileSync(path.join(spec, "kernel.json"), "utf8"));
      expect(json.display_name).toBe("TypeScript (nemotron-lab)");
      expect(json.language).toBe("typescript");
      expect(json.interrupt_mode).toBe("message");
      expect(json.argv).toContain("{connection_file}");
      expect(fs.existsSync(json.argv[1])).toBe(true);
      const png = fs.readFileSync(path.join(spec, "logo-64x64.png"));
      expect(png.subarray(1, 4).toString()).toBe("PNG");
      expect(png.readUInt32BE(16)).toBe(64);
      expect(png.readUInt32BE(20)).toBe(64);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  it("installs --user into JUPYTER_DATA_DIR and refuses unknown options", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nl-user-"));
    try {
      execFileSync(process.execPath, [KERNEL_MAIN, "install", "--user"], { env: { ...process.env, JUPYTER_DATA_DIR: dir } });
      expect(fs.existsSync(path.join(dir, "kernels", "nemotron-lab", "kernel.json"))).toBe(true);
      expect(() => execFileSync(process.execPath, [KERNEL_MAIN, "install", "--bogus"], { stdio: "pipe" })).toThrow();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("is_complete, code points, history", () => {
  it("classifies complete, incomplete and invalid code", () => {
    expect(isComplete("const a = 1;").status).toBe("complete");
    expect(isComplete("function f() {")).toEqual({ status: "incomplete", indent: "  " });
    expect(isComplete("/* open comment").status).toBe("incomplete");
    expect(isComplete("let x = );").status).toBe("invalid");
    expect(isComplete('const s = "abc').status).toBe("invalid");
  });
  it("converts between code points and UTF-16 units", () => {
    const s = "a\u{1F600}b";
    expect(codePointToUtf16(s, 2)).toBe(3);
    expect(utf16ToCodePoint(s, 3)).toBe(2);
  });
  it("answers tail, range and glob search", () => {
    const h = new History();
    ["a = 1", "b = 2", "a = 1", "c = 3"].forEach((code, i) => h.add(i + 1, code));
    h.setOutput(4, "3");
    expect(h.tail(2, false).map((e) => e[2])).toEqual(["a = 1", "c = 3"]);
    expect(h.tail(1, true)[0][2]).toEqual(["c = 3", "3"]);
    expect(h.range(0, 2, 4, false).map((e) => e[1])).toEqual([2, 3]);
    expect(h.search("a*", undefined, false, false)).toHaveLength(2);
    expect(h.search("a*", undefined, true, false)).toHaveLength(1);
    expect(h.search("? = ?", 3, false, false)).toHaveLength(3);
  });
});

describe("display helpers outside a kernel", () => {
  it("prints text/plain to stdout when no sink is installed", () => {
    setDisplaySink(undefined);
    const write = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    try {
      expect(display({ [DISPLAY_SYMBOL]: () => ({ "text/html": "<b>x</b>", "text/plain": "x!" }) })).toBeUndefined();
      display("hello");
      clearOutput();
      expect(write.mock.calls.map((c) => String(c[0]))).toEqual(["x!\n", "hello\n"]);
    } finally {
      write.mockRestore();
    }
  });
  it("routes displays and updates to an installed sink", () => {
    const calls: string[] = [];
    setDisplaySink({
      display: (b, _m, id) => calls.push(`display ${Object.keys(b).join(",")} ${id ? "id" : "-"}`),
      update: (b) => calls.push(`update ${String(b["text/plain"])}`),
      clear: (w) => calls.push(`clear ${w}`),
    });
    try {
      const h = display({ "text/plain": "one" }, { displayId: true });
      h.update({ "text/plain": "two" });
      clearOutput({ wait: true });
      expect(calls).toEqual(["display text/plain id", "update two", "clear true"]);
    } finally {
      setDisplaySink(undefined);
    }
  });
  it("renders values through Symbol.for('Jupyter.display') and plotly offline", () => {
    expect(mimeBundleOf({ [Symbol.for("Jupyter.display")]: () => ({ "text/html": "<i>t</i>" }) })["text/html"]).toBe("<i>t</i>");
    expect(mimeBundleOf("s")["text/plain"]).toBe("'s'");
    // By default the fallback is small (JupyterLab's renderer and the report draw the JSON).
    const plain = plotlyBundle({ data: [{ y: [1, 2] }] });
    expect(plain["application/vnd.plotly.v1+json"]).toEqual({ data: [{ y: [1, 2] }], layout: {}, config: {} });
    expect((plain["text/html"] as string).length).toBeLessThan(10_000);
    expect(plain["text/html"] as string).toMatch(/kernel install/);
    const first = plotlyBundle({ data: [{ y: [1, 2] }] }, { inline: "once" });
    const second = plotlyBundle({ data: [{ y: [3] }] }, { inline: "once" });
    expect((first["text/html"] as string).length).toBeGreaterThan(1_000_000); // plotly.js inlined
    expect((second["text/html"] as string).length).toBeLessThan(10_000); // reuses window.Plotly
    expect(second["text/html"] as string).not.toMatch(/<script[^>]+src=/);
  });
  it("progress is silent without a sink or TTY and forwards to a sink", () => {
    setProgressSink(undefined);
    const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const tty = process.stderr.isTTY;
    try {
      (process.stderr as { isTTY?: boolean }).isTTY = false;
      const p = progress("x", 2);
      p.update(1);
      p.finish();
      expect(write).not.toHaveBeenCalled();
    } finally {
      write.mockRestore();
      (process.stderr as { isTTY?: boolean }).isTTY = tty;
    }
    const seen: string[] = [];
    setProgressSink({ start: (l, t) => { seen.push(`start ${l} ${t}`); return { update: (d) => seen.push(`u${d}`), finish: () => seen.push("fin") }; } });
    const q = progress("load", 3);
    q.update(2);
    q.finish();
    setProgressSink(undefined);
    expect(seen).toEqual(["start load 3", "u2", "fin"]);
  });
});

describe("top-level await detection", () => {
  it("sees awaits tslab's diagnostic misses (await followed by a parenthesis), and only the cell's own", async () => {
    const { hasTopLevelAwait } = await import("../kernel/session/converter");
    expect(hasTopLevelAwait("const a = await (Promise.resolve(1)); a")).toBe(true);
    expect(hasTopLevelAwait("const b = await (globalThis as any).p;")).toBe(true);
    expect(hasTopLevelAwait("for await (const x of xs) {}")).toBe(true);
    expect(hasTopLevelAwait("const f = async () => await g();\nclass C { async m() { await 1; } }")).toBe(false);
    expect(hasTopLevelAwait("const awaitable = 1;")).toBe(false);
  });
});
