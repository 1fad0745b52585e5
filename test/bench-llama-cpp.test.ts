// The llama.cpp peer of the model benchmark (bench/llama-cpp.ts): finding llama-bench in the
// build folder the user names, passing it the thread count and lengths, and reading its JSON
// (the fastest sample of each test, as our own figures are the fastest of their runs). A stand-in
// llama-bench (a script that records its arguments and prints llama-bench's JSON layout)
// keeps llama.cpp itself out of the test.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterEach, describe, expect, it } from "vitest";
import { ggufFor, llamaBench, llamaRates } from "../bench/llama-cpp";

const dirs: string[] = [];
afterEach(() => {
  delete process.env.NEMOTRON_LAB_LLAMA_CPP;
  delete process.env.NEMOTRON_LAB_LLAMA_GGUF_Q8_0;
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function fakeBuild(output: string): { root: string; argsFile: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "nl-fake-llama-"));
  dirs.push(root);
  fs.mkdirSync(path.join(root, "bin"));
  const argsFile = path.join(root, "args.json");
  const script = path.join(root, "bin", "llama-bench");
  fs.writeFileSync(script, `#!${process.execPath}\nrequire("fs").writeFileSync(${JSON.stringify(argsFile)}, JSON.stringify(process.argv.slice(2)));\nprocess.stdout.write(${JSON.stringify(output)});\n`);
  fs.chmodSync(script, 0o755);
  return { root, argsFile };
}

describe("llama.cpp peer", () => {
  it("is skipped without NEMOTRON_LAB_LLAMA_CPP, and without llama-bench in the folder it names", () => {
    expect(llamaBench()).toBeUndefined();
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "nl-empty-llama-"));
    dirs.push(empty);
    process.env.NEMOTRON_LAB_LLAMA_CPP = empty;
    expect(llamaBench()).toBeUndefined();
  });

  it("runs llama-bench with the thread count and lengths and keeps the fastest sample of each test", () => {
    const json = JSON.stringify([
      { n_prompt: 128, n_gen: 0, avg_ts: 900, samples_ts: [850, 1000, 950] },
      { n_prompt: 512, n_gen: 0, avg_ts: 700, samples_ts: [700, 720] },
      { n_prompt: 0, n_gen: 64, avg_ts: 300, samples_ts: [290, 310.5] },
    ]);
    const { root, argsFile } = fakeBuild(json);
    process.env.NEMOTRON_LAB_LLAMA_CPP = root;
    const bin = llamaBench()!;
    expect(bin).toBe(path.join(root, "bin", "llama-bench"));
    const r = llamaRates(bin, "/models/x.gguf", 2, [128, 512], 64, 3)!;
    expect(r.decode).toBe(310.5);
    expect([...r.prefill.entries()]).toEqual([[128, 1000], [512, 720]]);
    expect(JSON.parse(fs.readFileSync(argsFile, "utf8"))).toEqual(["-m", "/models/x.gguf", "-t", "2", "-p", "128,512", "-n", "64", "-r", "3", "-o", "json"]);
  });

  it("reports a llama-bench that prints no decode result instead of inventing one", () => {
    const { root } = fakeBuild(JSON.stringify([{ n_prompt: 128, n_gen: 0, avg_ts: 900, samples_ts: [900] }]));
    process.env.NEMOTRON_LAB_LLAMA_CPP = root;
    expect(llamaRates(llamaBench()!, "/models/x.gguf", 1, [128], 64)).toBeUndefined();
  });

  it("takes the GGUF the user gives before converting", () => {
    process.env.NEMOTRON_LAB_LLAMA_GGUF_Q8_0 = "/models/given-q8_0.gguf";
    expect(ggufFor("/nowhere/bin/llama-bench", "/nowhere/ckpt", "q8_0", os.tmpdir())).toBe("/models/given-q8_0.gguf");
  });
});
