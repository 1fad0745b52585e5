// Our fp32 full-pass logits against HF transformers' NemotronHForCausalLM run in float64
// (test/fixtures/golden, made by make_golden.py): every case within 1e-5 of max|golden|.
import * as fs from "fs";
import * as path from "path";
import { describe, expect, it } from "vitest";
import { NemotronH, readNpy } from "../src/index";
import { fixture } from "./helpers";

const GOLDEN = fixture("golden");
const cases = fs.readdirSync(GOLDEN).filter((d) => fs.existsSync(path.join(GOLDEN, d, "golden.json"))).sort();

function relErr(ours: Float32Array, gold: ArrayLike<number>): number {
  let d = 0, m = 0;
  for (let i = 0; i < gold.length; i++) { d = Math.max(d, Math.abs(ours[i] - gold[i])); m = Math.max(m, Math.abs(gold[i])); }
  return d / m;
}

describe("golden logits (HF transformers, float64)", () => {
  it("has the fixture cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(8);
  });
  for (const c of cases) {
    it(c, () => {
      const dir = path.join(GOLDEN, c);
      const g = JSON.parse(fs.readFileSync(path.join(dir, "golden.json"), "utf8")) as { ids: number[]; dt_clamp: boolean };
      const gold = readNpy(path.join(dir, "logits.npy"));
      const model = NemotronH.load(dir, { dtClamp: g.dt_clamp ? "hf" : "none" });
      expect(gold.shape).toEqual([g.ids.length, model.vocabSize]);
      const err = relErr(model.logits(g.ids), gold.data as Float64Array);
      expect(err).toBeLessThanOrEqual(1e-5);
    });
  }
  it("the dt clamp option matters where HF clamps (so the clamp case tests something)", () => {
    const dir = path.join(GOLDEN, "bf16_dt_clamp");
    const g = JSON.parse(fs.readFileSync(path.join(dir, "golden.json"), "utf8")) as { ids: number[] };
    const gold = readNpy(path.join(dir, "logits.npy")).data as Float64Array;
    expect(relErr(NemotronH.load(dir, { dtClamp: "none" }).logits(g.ids), gold)).toBeGreaterThan(1e-4);
  });
});
