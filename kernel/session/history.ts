/**
 * The input (and text output) history of this kernel process, answering history_request's tail,
 * range and search. One session per process, numbered 1; sessions <= 0 mean "this one".
 */
import { globToRegExp } from "../../src/util/glob";

export type HistoryEntry = [number, number, string | [string, string | null]];

interface Row {
  line: number;
  input: string;
  output: string | null;
}

export const SESSION = 1;



export class History {
  private readonly rows: Row[] = [];

  add(line: number, input: string): void {
    this.rows.push({ line, input, output: null });
  }

  setOutput(line: number, output: string): void {
    const row = this.rows.find((r) => r.line === line);
    if (row) row.output = output;
  }

  private entry(r: Row, output: boolean): HistoryEntry {
    return [SESSION, r.line, output ? [r.input, r.output] : r.input];
  }

  tail(n: number, output: boolean): HistoryEntry[] {
    return this.rows.slice(Math.max(0, this.rows.length - n)).map((r) => this.entry(r, output));
  }

  range(session: number, start: number, stop: number | undefined, output: boolean): HistoryEntry[] {
    if (session > 0 && session !== SESSION) return [];
    return this.rows.filter((r) => r.line >= start && (stop === undefined || stop <= 0 || r.line < stop)).map((r) => this.entry(r, output));
  }

  search(pattern: string, n: number | undefined, unique: boolean, output: boolean): HistoryEntry[] {
    const re = globToRegExp(pattern || "*");
    let hits = this.rows.filter((r) => re.test(r.input));
    if (unique) {
      // Keep the most recent occurrence of each input.
      const seen = new Set<string>();
      hits = hits.reverse().filter((r) => (seen.has(r.input) ? false : (seen.add(r.input), true))).reverse();
    }
    if (n !== undefined && n > 0) hits = hits.slice(Math.max(0, hits.length - n));
    return hits.map((r) => this.entry(r, output));
  }
}
