/**
 * Two things JSON.parse cannot do for us: find duplicate keys at the top level of an
 * object (it keeps the last silently, which would hide a duplicate tensor), and accept
 * the bare Infinity / -Infinity / NaN tokens that Python's json module writes into
 * config.json. Both walk the text once, skipping string literals.
 */

/** Index of the closing quote of the string literal opening at text[start]. */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
  return i;
}

/** Keys that appear more than once at depth 1 of a JSON object text. */
export function duplicateTopLevelKeys(text: string): string[] {
  const seen = new Set<string>();
  const dups: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      i = stringEnd(text, i);
      if (depth === 1) {
        let j = i + 1;
        while (j < text.length && /\s/.test(text[j])) j++;
        if (text[j] === ":") {
          const key = JSON.parse(text.slice(start, i + 1)) as string;
          if (seen.has(key)) dups.push(key);
          seen.add(key);
        }
      }
    } else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
  }
  return dups;
}

const NON_FINITE: Record<string, number> = { Infinity: Infinity, "-Infinity": -Infinity, NaN: NaN };

/**
 * Parses JSON that may contain bare Infinity/-Infinity/NaN (Python's json) or transformers 5's
 * {"__float__": "Infinity"} objects; both become JS numbers.
 */
export function parseJsonWithNonFinite(text: string): unknown {
  let out = "";
  const marker = "__nonfinite__:";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      i = stringEnd(text, i);
      out += text.slice(start, i + 1);
      continue;
    }
    const m = /^(-?Infinity|NaN)/.exec(text.slice(i, i + 9));
    if (m) {
      out += JSON.stringify(marker + m[1]);
      i += m[1].length - 1;
      continue;
    }
    out += c;
  }
  return JSON.parse(out, (_key, value: unknown) => {
    if (typeof value === "string" && value.startsWith(marker)) return NON_FINITE[value.slice(marker.length)];
    if (value && typeof value === "object" && !Array.isArray(value)) {
      const keys = Object.keys(value);
      const f = (value as Record<string, unknown>)["__float__"];
      if (keys.length === 1 && typeof f === "string" && f in NON_FINITE) return NON_FINITE[f];
    }
    return value;
  });
}
