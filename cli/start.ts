/**
 * nemotron-lab start: the newcomer's tour. Makes the bundled tiny model if it is missing,
 * then prints its inventory and the FP8 (E4M3, per-tensor amax) error of every linear layer.
 */
import { Checkpoint } from "../src/io/checkpoint";
import { bundledModel } from "../src/tiny/bundled";
import { inventory, inventoryText } from "../src/model/inventory";
import { expectedTensors } from "../src/model/arch";
import { quantizeTensor } from "../src/fp8/quantize";
import { textTable } from "../src/util/format";
import type { Command } from "./command";
import { parse } from "./args";

export async function startCommand(): Promise<void> {
  const dir = await bundledModel("tiny");
  const ckpt = Checkpoint.open(dir);
  console.log(`\n${dir}: NemotronH ${ckpt.config!.hybrid_override_pattern}\n`);
  console.log(inventoryText(inventory(ckpt)));
  const rows = expectedTensors(ckpt.config!).filter((e) => e.linear).map((e) => {
    const t = ckpt.tensor(e.name);
    const m = quantizeTensor(t, { format: "e4m3", granularity: "tensor" }).metrics!;
    return [e.name, t.dtype, m.sqnrDb.toFixed(2), m.relL2.toExponential(3), m.maxAbs.toExponential(3), m.cosine.toFixed(6)];
  });
  console.log("\nFP8 E4M3 error, per-tensor amax scale:\n");
  console.log(textTable(["tensor", "stored", "SQNR dB", "rel L2", "max |err|", "cosine"], rows));
  console.log("\nNext, the tutorial notebooks (checkpoint tour, the hybrid forward pass, FP8 quantization):\n");
  console.log("  npm run kernel-install -- --user");
  console.log("  jupyter lab notebooks/");
}

export const command: Command = {
  name: "start",
  summary: "make the bundled tiny model if missing, print its inventory and the FP8 error of every linear layer",
  usage: "nemotron-lab start",
  example: "nemotron-lab start",
  run: (argv) => {
    parse(argv, {}, []);
    return startCommand();
  },
};
