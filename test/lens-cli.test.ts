// nemotron-lab activations: .npy per hook plus index.json, equal to the API's cache; bad selections refused clearly.
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { NemotronH, readNpy } from "../src/index";
import { cli, fixture, tempDir } from "./helpers";

const CKPT = fixture("golden", "f32_g2_chunk8");
const IDS = [3, 17, 42, 5, 99, 7];

describe("nemotron-lab activations", () => {
  it("writes DIR/<hook>.npy and index.json, equal to runWithCache", () => {
    const out = tempDir();
    const r = cli(["activations", CKPT, "--ids", IDS.join(","), "--hooks", "backbone.layers.*.mixer.dt,backbone.layers.3.mixer.pattern,logits", "--out", out]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const index = JSON.parse(fs.readFileSync(path.join(out, "index.json"), "utf8"));
    const model = NemotronH.load(CKPT);
    const cache = model.runWithCache(IDS, { names: ["backbone.layers.*.mixer.dt", "backbone.layers.3.mixer.pattern", "logits"] });
    expect(Object.keys(index.hooks).sort()).toEqual(cache.names().sort());
    for (const name of cache.names()) {
      const npy = readNpy(path.join(out, `${name}.npy`));
      expect(npy.shape).toEqual([...cache.get(name).shape]);
      expect(index.hooks[name]).toEqual(npy.shape);
      expect(Array.from(npy.data as Float32Array)).toEqual(Array.from(cache.get(name).values()));
    }
  });

  it("refuses an unknown hook and a selection over the memory bound, saying the size", () => {
    const out = tempDir();
    let r = cli(["activations", CKPT, "--ids", "1,2", "--hooks", "backbone.layers.0.mixer.q", "--out", out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown hook 'backbone\.layers\.0\.mixer\.q'/);
    const big = Array.from({ length: 400 }, (_, i) => i % 300).join(",");
    r = cli(["activations", CKPT, "--ids", big, "--hooks", "*,backbone.layers.*.mixer.ssm_state", "--out", out, "--max-mib", "1"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/needs [\d.]+ MiB, over the bound of 1\.0 MiB \(--max-mib\)/);
  });
});
