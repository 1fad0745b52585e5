/**
 * Checkpoint: a NemotronH checkpoint, the files of io/checkpoint.ts read as this model: its
 * config.json parsed and validated, the tensor-name aliases (model.* for backbone.*), the layer
 * plan, the tensors the plan needs checked on open, and the inventory as its notebook display.
 */
import * as path from "path";
import { CheckpointError } from "../io/errors";
import { CheckpointFiles, SafetensorsCheckpoint, locateCheckpoint } from "../io/checkpoint";
import { formatShape } from "../util/format";
import { LayerPlanEntry, NemotronHConfig, layerPlan, validateConfig } from "./config";
import { expectedTensors, nameAliases } from "./arch";
import { inventory, inventoryHtml, inventoryText } from "./inventory";

export interface OpenOptions {
  /** Check the tensors against the config's layer plan (default true when there is a config). */
  validate?: boolean;
  /** Revision for repo ids (default "main"). */
  revision?: string;
}

export class Checkpoint extends SafetensorsCheckpoint {
  /** config.json read as NemotronH's (undefined for a bare .safetensors without one). */
  readonly config: NemotronHConfig | undefined;

  constructor(located: CheckpointFiles) {
    super(located);
    this.config = located.configJson && validateConfig(located.configJson, path.join(located.dir, "config.json"));
  }

  static override open(spec: string, options: OpenOptions = {}): Checkpoint {
    const ckpt = new Checkpoint(locateCheckpoint(spec, options.revision));
    if (ckpt.config && (options.validate ?? true)) ckpt.validate();
    return ckpt;
  }

  /** Layer plan from the config: which block kind each layer is, with its tensor path. */
  get plan(): LayerPlanEntry[] {
    if (!this.config) throw new CheckpointError("invalid-config", `${this.dir}: no config.json, so there is no layer plan`, { file: this.dir });
    return layerPlan(this.config);
  }

  protected override aliases(name: string): string[] {
    return nameAliases(name);
  }

  override toString(): string {
    return `Checkpoint(${this.dir}, ${this.tensors.size} tensors${this.config ? `, NemotronH ${this.config.hybrid_override_pattern}` : ""})`;
  }

  /** In a notebook, a checkpoint shows its inventory. */
  [Symbol.for("Jupyter.display")](): Record<string, string> {
    const inv = inventory(this);
    return { "text/plain": `${this.toString()}\n${inventoryText(inv)}`, "text/html": inventoryHtml(inv) };
  }

  /** Checks every tensor the config's layer plan needs: present, and of the right shape. */
  validate(): void {
    if (!this.config) return;
    const missing: string[] = [];
    const wrong: string[] = [];
    for (const e of expectedTensors(this.config)) {
      if (!this.has(e.name)) { missing.push(e.name); continue; }
      const t = this.tensor(e.name);
      if (t.shape.length !== e.shape.length || t.shape.some((d, i) => d !== e.shape[i])) {
        wrong.push(`${e.name} is ${formatShape(t.shape)}, config expects ${formatShape(e.shape)}`);
      }
    }
    if (missing.length || wrong.length) {
      const parts: string[] = [];
      if (missing.length) parts.push(`missing ${missing.length} tensor(s): ${missing.slice(0, 8).join(", ")}${missing.length > 8 ? ", ..." : ""}`);
      if (wrong.length) parts.push(`wrong shape: ${wrong.slice(0, 8).join("; ")}${wrong.length > 8 ? "; ..." : ""}`);
      throw new CheckpointError("config-mismatch", `${this.dir}: tensors do not fit config.json: ${parts.join("; ")}`,
        { file: path.join(this.dir, "config.json"), tensor: missing[0] ?? wrong[0]?.split(" ")[0] });
    }
  }
}
