/** Progress of quantization experiments: a sensitivity sweep shows one bar, not one per group. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { afterAll, describe, expect, it } from "vitest";
import { NemotronH, makeTiny, sensitivitySweep, setProgressSink } from "../src/index";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nl-quant-progress-"));
afterAll(() => {
  setProgressSink(undefined);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("sensitivity sweep progress", () => {
  it("reports the baseline and the sweep, with the group as the note", async () => {
    await makeTiny(dir, { seed: 3 });
    const model = NemotronH.load(dir);
    const started: string[] = [];
    const notes: string[] = [];
    setProgressSink({ start: (label) => { started.push(label); return { update: (_d, note) => { if (note) notes.push(note); }, finish: () => undefined }; } });
    const r = sensitivitySweep(model, { prompts: [[1, 2, 3, 4]], layers: "mlp", by: "layer" });
    setProgressSink(undefined);
    expect(r.rows.length).toBeGreaterThan(1);
    expect(started).toEqual(["original model", "sensitivity sweep"]);
    expect(notes).toEqual(expect.arrayContaining(r.rows.map((x) => x.group)));
  });
});
