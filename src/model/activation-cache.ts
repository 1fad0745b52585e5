/**
 * ActivationCache: what one runWithCache call recorded, by hook name. Entries are Tensors
 * (shape, row(t), stats, histogram, as checkpoint tensors); stack(glob) joins same-shaped
 * entries along a new first axis; asking for a name that was not recorded says which call
 * records it.
 */
import { globToRegExp } from "../util/glob";
import { Tensor } from "../tensor/tensor";
import { formatShape } from "../util/format";

export class ActivationCache {
  /** @internal */
  constructor(private readonly entries: Map<string, Tensor>, readonly logits: Float32Array, readonly tokens: number,
    private readonly known: (name: string) => boolean) {}

  get size(): number {
    return this.entries.size;
  }
  names(): string[] {
    return [...this.entries.keys()];
  }
  has(name: string): boolean {
    return this.entries.has(name);
  }

  get(name: string): Tensor {
    const t = this.entries.get(name);
    if (t) return t;
    if (!this.known(name)) throw new Error(`ActivationCache: '${name}' is not a hook of this model; model.hookPoints() lists them`);
    throw new Error(`ActivationCache: '${name}' was not recorded; model.runWithCache(ids, { names: [${JSON.stringify(name)}] }) records it`);
  }

  /** Entries matching a glob, in forward order, stacked: [n, ...shape], with their names. */
  stack(glob: string): { names: string[]; tensor: Tensor } {
    const re = globToRegExp(glob);
    const names = this.names().filter((n) => re.test(n));
    if (names.length === 0) throw new Error(`ActivationCache.stack('${glob}'): no recorded entry matches; recorded: ${this.names().slice(0, 4).join(", ")}...`);
    const shape = this.entries.get(names[0])!.shape;
    const each = shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(names.length * each);
    names.forEach((n, i) => {
      const t = this.entries.get(n)!;
      if (formatShape(t.shape) !== formatShape(shape)) {
        throw new Error(`ActivationCache.stack('${glob}'): ${n} has shape ${formatShape(t.shape)}, ${names[0]} ${formatShape(shape)}`);
      }
      out.set(t.values(), i * each);
    });
    return { names, tensor: Tensor.fromArray(glob, out, [names.length, ...shape]) };
  }
}
