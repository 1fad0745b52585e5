/**
 * The byte alphabet of byte-level BPE (GPT-2's ByteLevel pre-tokenizer and decoder), shared
 * by the tokenizer (text/tokenizer.ts) and the tiny model's tokenizer trainer (tiny/tokenizer.ts).
 */

/** GPT-2's reversible byte -> printable character map used by ByteLevel. */
export function bytesToUnicode(): string[] {
  const keep: number[] = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const map = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) map[b] = keep.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  return map;
}
