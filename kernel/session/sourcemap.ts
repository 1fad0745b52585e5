/**
 * Just enough of source maps (v3, VLQ "mappings") to carry a runtime position in generated
 * JavaScript back to the line the user typed. A cell goes through two emits (TypeScript to ES
 * module, then ES module to CommonJS), so a position is looked up through both maps in turn.
 */

/** One decoded line: [generatedColumn, sourceLine, sourceColumn] triples, sorted by column. */
type Segment = [number, number, number];

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

function decodeVlq(s: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const ch of s) {
    const digit = B64_INDEX.get(ch);
    if (digit === undefined) throw new Error(`bad VLQ character ${ch}`);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
    } else {
      out.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return out;
}

export class SourceMap {
  private readonly lines: Segment[][] = [];

  constructor(mappings: string) {
    let srcLine = 0;
    let srcCol = 0;
    for (const lineText of mappings.split(";")) {
      const segs: Segment[] = [];
      let genCol = 0;
      for (const seg of lineText.split(",")) {
        if (!seg) continue;
        const f = decodeVlq(seg);
        genCol += f[0];
        if (f.length >= 4) {
          srcLine += f[2];
          srcCol += f[3];
          segs.push([genCol, srcLine, srcCol]);
        }
      }
      segs.sort((a, b) => a[0] - b[0]);
      this.lines.push(segs);
    }
  }

  static fromJson(json: string): SourceMap {
    return new SourceMap((JSON.parse(json) as { mappings: string }).mappings);
  }

  /** Zero-based (line, column) in the generated code to zero-based position in the source. */
  lookup(line: number, column: number): { line: number; column: number } | undefined {
    const segs = this.lines[line];
    if (!segs || segs.length === 0) {
      // A line with no mapping (helper code the emitter added): use the nearest mapped line above.
      for (let l = Math.min(line, this.lines.length) - 1; l >= 0; l--) {
        const s = this.lines[l];
        if (s && s.length) return { line: s[s.length - 1][1], column: s[s.length - 1][2] };
      }
      return undefined;
    }
    let best = segs[0];
    for (const s of segs) {
      if (s[0] <= column) best = s;
      else break;
    }
    return { line: best[1], column: best[2] };
  }
}

/** Finds and removes `//# sourceMappingURL=data:...;base64,...` from emitted code. */
export function takeInlineMap(code: string): { code: string; map?: SourceMap } {
  const re = /\n?\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/;
  const m = re.exec(code);
  if (!m) return { code };
  return { code: code.slice(0, m.index), map: SourceMap.fromJson(Buffer.from(m[1], "base64").toString("utf8")) };
}

export interface PositionMap {
  lookup(line: number, column: number): { line: number; column: number } | undefined;
}

/** A chain of maps, applied from the last emit back to the source. */
export class MapChain implements PositionMap {
  constructor(private readonly maps: SourceMap[]) {}
  lookup(line: number, column: number): { line: number; column: number } | undefined {
    let pos: { line: number; column: number } | undefined = { line, column };
    for (const m of this.maps) {
      pos = m.lookup(pos.line, pos.column);
      if (!pos) return undefined;
    }
    return pos;
  }
}
