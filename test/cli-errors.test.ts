// The command line's contract with its user: every subcommand answers --help with its own
// usage and an example that works; a mistake the user can fix prints one clear line and
// exits 1 (a wrong command line 2), never a stack trace; only a bug prints a trace.
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import { afterEach, describe, expect, it, vi } from "vitest";
import { UserError } from "../src/util/errors";
import { CheckpointError } from "../src/index";
import { bundledModel } from "../src/tiny/bundled";
import { CLI_MAIN, cli, tempDir } from "./helpers";

// The built CLI (its lazy per-command requires need compiled modules).
const { commands, reportError } = require(CLI_MAIN) as typeof import("../cli/main");
const REPO = path.resolve(__dirname, "..");
const STACK_LINE = /^\s+at .*(\.js|\.ts):\d+/m;

describe("nemotron-lab SUBCOMMAND --help", () => {
  for (const c of commands()) {
    it(`${c.name} --help prints its usage and an example that runs`, async () => {
      const r = cli([c.name, "--help"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.startsWith(`nemotron-lab ${c.name} — `)).toBe(true);
      expect(r.stdout).toMatch(new RegExp(`usage:\\n  nemotron-lab ${c.name}\\b`));
      expect(r.stdout).toMatch(/\nexample:\n  nemotron-lab /);
      expect(cli([c.name, "-h"]).stdout).toBe(r.stdout);
      // The example, as printed, through a shell in a temp folder: /tmp/ paths go to that folder,
      // models/tiny to the bundled tiny model, paths into the repo (models/, notebooks/) at the repo, and a
      // kernelspec goes to a temp prefix instead of the user's folder.
      const work = tempDir();
      const example = r.stdout.slice(r.stdout.indexOf("\nexample:\n") + 10).trim()
        .replaceAll("/tmp/", `${work}/`)
        .replaceAll("models/tiny", await bundledModel("tiny"))
        .replace(/(?<![\w/.])(models|notebooks)\//g, `${REPO}/$1/`)
        .replace("kernel install --user", `kernel install --prefix ${JSON.stringify(work)}`);
      const sh = spawnSync("bash", ["-c", `nemotron-lab() { "${process.execPath}" "${CLI_MAIN}" "$@"; }\n${example}`], {
        cwd: work, encoding: "utf8", env: { ...process.env, NEMOTRON_LAB_NO_PROGRESS: "1" }, timeout: 280_000,
      });
      expect(sh.status, `${example}\n${sh.stdout}\n${sh.stderr}`).toBe(0);
    }, 300_000);  // start's example is the whole tour: about a minute alone, more on a loaded machine
  }
  it("the top-level help lists every subcommand with its summary", () => {
    const r = cli(["--help"]);
    expect(r.code).toBe(0);
    const width = Math.max(...commands().map((c) => c.name.length));
    for (const c of commands()) expect(r.stdout).toContain(`  ${c.name.padEnd(width)}  ${c.summary}`);
  });
});

describe("expected errors: one message, exit 1, no stack trace", () => {
  const dir = path.join(tempDir(), "tiny");
  it("quantize --export --calibrate TEXT on a checkpoint without tokenizer.json", () => {
    expect(cli(["make-tiny", dir]).code).toBe(0);
    fs.rmSync(path.join(dir, "tokenizer.json"));
    const r = cli(["quantize", dir, "--out", path.join(tempDir(), "out"), "--export", "modelopt", "--calibrate", "hello there"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^nemotron-lab quantize: .*tokenizer\.json: no tokenizer\.json in the checkpoint folder/);
    expect(r.stderr).not.toMatch(STACK_LINE);
  });
  it("a checkpoint that is not there, a bad tensor, a library argument out of range", () => {
    for (const args of [["inspect", path.join(tempDir(), "nothing")], ["generate", dir, "--ids", "1", "--max-tokens", "0"],
      ["logits", path.join(tempDir(), "none"), "--ids", "1"]]) {
      const r = cli(args);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(args[0] === "generate" ? 2 : 1);
      expect(r.stderr.trim().split("\n").length, r.stderr).toBeLessThanOrEqual(2);
      expect(r.stderr, args.join(" ")).not.toMatch(STACK_LINE);
    }
  });
  it("a wrong command line exits 2 and points to the command's --help", () => {
    const r = cli(["inspect", dir, "--frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Unknown option '--frobnicate'[\s\S]*nemotron-lab inspect --help/);
  });
});

describe("the classification (src/util/errors.ts) that the command line applies", () => {
  const err = vi.spyOn(console, "error").mockImplementation(() => {});
  afterEach(() => err.mockClear());
  const inspect = commands().find((c) => c.name === "inspect")!;
  it("a user error: its message alone, status 1", () => {
    expect(reportError(inspect, new CheckpointError("not-found", "x: no checkpoint here"))).toBe(1);
    expect(reportError(inspect, new UserError("y: missing"))).toBe(1);
    expect(err.mock.calls.map((c) => c[0])).toEqual(["nemotron-lab inspect: x: no checkpoint here", "nemotron-lab inspect: y: missing"]);
  });
  it("a bug: the stack, and a request to report it", () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'shape')");
    expect(reportError(inspect, bug)).toBe(1);
    const text = String(err.mock.calls[0][0]);
    expect(text).toMatch(/internal error — this is a bug in nemotron-lab; please report it/);
    expect(text).toMatch(STACK_LINE);
  });
});
