import { describe, it, expect, beforeAll } from "vitest";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { TextTokenizer, writeTinyTokenizer, tinyTokenizerJson, TINY_TOKENIZER_MIN_VOCAB, makeTiny } from "../src/index";
import { hasPythonModule, noVenvReason, runPython, warnSkip } from "./helpers/python";

const TEXTS = [
  "Hello, world!",
  "The keeper climbed the stairs of the lighthouse.",
  "  leading spaces, trailing   \n\nnew\tlines\r\n",
  "Numbers 3.14159 and 2025-01-15, prices $5.99; code: for (let i = 0; i < n; i++) {}",
  "Unicode: Café naïve über 東京 Ελληνικά ж 🙂👍🏽 — “quotes”",
  "<SPECIAL_10>System\n\n<SPECIAL_11>User\nHi there<SPECIAL_12><think>reasoning</think>answer</s>",
  "don't won't it's we're they've I'm you'll he'd",
  "",
];

let dir: string;
let tok: TextTokenizer;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "nl-tok-"));
  writeTinyTokenizer(dir, 1024);
  tok = TextTokenizer.load(dir);
});

describe("tiny tokenizer", () => {
  it("has the Nano-v2 low-id layout and the asked vocabulary size", () => {
    expect(tok.vocabSize).toBe(1024);
    expect([tok.tokenToId("<unk>"), tok.tokenToId("<s>"), tok.tokenToId("</s>")]).toEqual([0, 1, 2]);
    expect([tok.tokenToId("<SPECIAL_10>"), tok.tokenToId("<SPECIAL_11>"), tok.tokenToId("<SPECIAL_12>")]).toEqual([10, 11, 12]);
    expect(tok.tokenToId("<think>")).toBeGreaterThan(12);
    expect(tok.tokenToId("</think>")).toBeGreaterThan(12);
    expect(tok.bosId).toBe(1);
    expect(tok.eosIds.sort((a, b) => a - b)).toEqual([2, 12]);
    expect(tok.chatTemplate).toContain("<SPECIAL_11>Assistant");
  });

  it("round-trips text, with BOS from the post-processor and special tokens kept whole", () => {
    for (const t of TEXTS) {
      const ids = tok.encode(t, { addSpecialTokens: false });
      expect(tok.decode(ids)).toBe(t);
      expect(tok.encode(t)).toEqual([1, ...ids]);
    }
    const ids = tok.encode("<SPECIAL_11>User\n<think>", { addSpecialTokens: false });
    expect(ids[0]).toBe(11);
    expect(ids[ids.length - 1]).toBe(tok.tokenToId("<think>"));
    expect(tok.decode([1, ...ids], { skipSpecialTokens: true })).toBe("User\n<think>");
  });

  it("merges: common English words are single tokens, unseen scripts fall back to bytes", () => {
    expect(tok.encode(" the", { addSpecialTokens: false })).toHaveLength(1);
    expect(tok.encode("ж", { addSpecialTokens: false })).toHaveLength(2);
  });

  it("the stream decoder never emits a broken character and adds up to decode()", () => {
    for (const t of TEXTS) {
      const ids = tok.encode(t, { addSpecialTokens: false });
      const d = tok.streamDecoder();
      const pieces = ids.map((id) => d.push(id));
      pieces.push(d.flush());
      expect(pieces.join("")).toBe(t);
      for (const p of pieces) expect(p).not.toContain("\uFFFD");
    }
    // "ж" is two byte tokens: nothing until the second one.
    const [a, b] = tok.encode("ж", { addSpecialTokens: false });
    const d = tok.streamDecoder();
    expect(d.push(a)).toBe("");
    expect(d.push(b)).toBe("ж");
    // A dangling lead byte becomes U+FFFD only at the end.
    const d2 = tok.streamDecoder();
    expect(d2.push(a)).toBe("");
    expect(d2.flush()).toBe("\uFFFD");
  });

  it("pads vocabularies past what the built-in text can merge with reserved tokens, and refuses too-small ones", () => {
    const big = tinyTokenizerJson(1500) as { added_tokens: { id: number }[] };
    expect(Math.max(...big.added_tokens.map((t) => t.id))).toBe(1499);
    expect(() => tinyTokenizerJson(TINY_TOKENIZER_MIN_VOCAB - 1)).toThrow(/vocab_size/);
  });

  it("make-tiny writes the tokenizer beside the weights", async () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "nl-tiny-"));
    await makeTiny(d, { dtype: "f32", config: { vocab_size: 512 } });
    const t = TextTokenizer.load(d);
    expect(t.vocabSize).toBe(512);
    expect(t.decode(t.encode("make tiny", { addSpecialTokens: false }))).toBe("make tiny");
  });

  it("clear errors for a folder without tokenizer.json and for broken JSON", () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), "nl-none-"));
    expect(() => TextTokenizer.load(empty)).toThrow(/no tokenizer\.json/);
    expect(TextTokenizer.tryLoad(empty)).toBeUndefined();
    fs.writeFileSync(path.join(empty, "tokenizer.json"), "{ not json");
    expect(() => TextTokenizer.load(empty)).toThrow(/tokenizer\.json: invalid JSON/);
  });
});

const pyOk = hasPythonModule("tokenizers");
if (!pyOk) warnSkip("Python tokenizers parity (tokenizer.test.ts)", noVenvReason("tokenizers"));
describe.skipIf(!pyOk)("parity with Python tokenizers", () => {
  it("same ids for the same text, and the same decode", () => {
    const script = `
import json, sys
from tokenizers import Tokenizer
a = json.load(sys.stdin)
t = Tokenizer.from_file(a["file"])
out = []
for s in a["texts"]:
    ids = t.encode(s).ids
    out.append({"ids": ids, "plain": t.encode(s, add_special_tokens=False).ids, "text": t.decode(ids, skip_special_tokens=False)})
print(json.dumps({"vocab": t.get_vocab_size(), "out": out}))`;
    const py = runPython(script, { file: path.join(dir, "tokenizer.json"), texts: TEXTS });
    expect(py.vocab).toBe(tok.vocabSize);
    TEXTS.forEach((t, i) => {
      expect(tok.encode(t)).toEqual(py.out[i].ids);
      expect(tok.encode(t, { addSpecialTokens: false })).toEqual(py.out[i].plain);
      expect(tok.decode(py.out[i].ids)).toBe(py.out[i].text);
    });
  });
});
