/**
 * The tiny model's tokenizer: a byte-level BPE (GPT-2 pre-tokenizer and byte alphabet, like
 * the real checkpoint's byte-level BPE) trained here on a small built-in English text, written
 * as a Hugging Face tokenizer.json that both @huggingface/tokenizers and Python `tokenizers`
 * load, plus a tokenizer_config.json carrying a Nano-v2-style chat template.
 *
 * Why a hand-written trainer: the npm tokenizers package only encodes and decodes; training a
 * few hundred merges on a few kilobytes is a short greedy loop (count adjacent pairs, merge
 * the most frequent, repeat), and writing it keeps the product free of Python.
 *
 * Id layout (mirrors Nano-v2's low ids): <unk>=0, <s>=1, </s>=2, <SPECIAL_3>..<SPECIAL_15>
 * (so <SPECIAL_10/11/12> are 10/11/12), <think>=16, </think>=17, the 256 byte tokens, then one
 * token per merge up to vocab_size (past what the built-in text can merge: <RESERVED_id> specials).
 */
import * as fs from "fs";
import * as path from "path";
import { NANO_V2_CHAT_TEMPLATE } from "../text/chat";
import { bytesToUnicode } from "../text/byte-level";

export const TINY_SPECIAL_COUNT = 16;
export const TINY_THINK_ID = 16;
export const TINY_END_THINK_ID = 17;
const FIRST_BYTE_ID = 18;
/** The smallest vocabulary the layout fits: specials, think tokens and the 256 bytes. */
export const TINY_TOKENIZER_MIN_VOCAB = FIRST_BYTE_ID + 256;

/** GPT-2's pre-tokenizer split (what ByteLevel with use_regex applies). */
const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** A small original English text: enough distinct words for the default 750 merges. */
export const TINY_CORPUS = `
The river town woke slowly on a cold morning in early spring. Fishermen pulled their boats onto the sand,
children ran along the narrow streets, and the baker opened his shop before the sun was over the hills.
Everyone in the town knew the old lighthouse keeper, who had watched the water for forty years and who
still wrote down the weather every evening in a thick blue notebook.
"What will the sea do today?" asked a girl who stopped by the door. The keeper smiled and said that the
wind was turning to the west, that the clouds were high and thin, and that the afternoon would be calm.
She thanked him, wrote the words in her own small book, and walked down to the harbour to tell her father.
A model that reads text one piece at a time has to remember what came before. Some models keep a short
summary of the past in a fixed state and update it with every new token; others look back at every earlier
token with attention. A hybrid model mixes both kinds of layers: most layers carry a compact state forward,
and a few attention layers let the network find exact words far back in the context.
When you ask a question, the assistant thinks first and then answers. It writes its reasoning between two
markers, and the final answer comes after the second one. If you say that you want no thinking, it skips
the reasoning and answers at once. Short answers are often better than long ones, but a careful answer is
better than a fast one.
Numbers matter too: 1, 2, 3, 10, 42, 100, 2024 and 3.14 appear in many texts. Prices like $5.99, times
like 10:30, and dates like 2025-01-15 are common. Lists, tables and code have their own shapes:
for (let i = 0; i < n; i++) { total += values[i]; } returns the sum, and print("hello, world") prints.
The garden behind the school grew tomatoes, beans, onions and sunflowers. Every student had a small square
of earth to look after. They learned that water in the morning is better than water at noon, that weeds
grow faster than anything else, and that patience is the most useful tool a gardener can own.
In the evening the town was quiet again. Lamps were lit in the windows, the boats rocked gently in the
harbour, and the keeper climbed the stairs of the lighthouse one more time to light the great lamp.
Questions and answers, stories and instructions, letters and reports: language comes in many forms, and
a tokenizer must handle all of them, including words it has never seen, by falling back to single bytes.
Café, naïve, über, 東京, and emoji like 🙂 are stored as several bytes each.
On Saturday the market filled the square. Farmers brought cheese, apples, honey and fresh bread; a
musician played the violin near the fountain; two dogs chased pigeons between the stalls. Prices were
written in chalk, and people argued politely about whether the plums were sweeter this year or last.
Travellers who arrived by train asked for directions to the museum, the castle and the library. The
library had a reading room with tall windows, long wooden tables, and a clock that was always five
minutes slow. Students came there to study history, physics, mathematics, music and languages.
Write a short poem about the sea. Explain why the sky is blue. Translate this sentence into French.
Summarize the article in three sentences. Which planet is the largest? How many days are in a leap year?
Yes, no, maybe, certainly, perhaps, never, always, sometimes, usually, rarely, quickly, slowly.
`;

export interface TrainedBpe {
  vocab: Map<string, number>;
  merges: [string, string][];
}

/**
 * Greedy byte-level BPE training up to vocabSize ids (fewer when the text runs out of pairs):
 * ties between equally frequent pairs go to the lexicographically smaller pair. */
export function trainByteLevelBpe(text: string, vocabSize: number, firstId = FIRST_BYTE_ID): TrainedBpe {
  const byteChar = bytesToUnicode();
  const vocab = new Map<string, number>();
  for (let b = 0; b < 256; b++) vocab.set(byteChar[b], firstId + b);
  const encoder = new TextEncoder();
  const counts = new Map<string, number>();
  for (const m of text.matchAll(GPT2_SPLIT)) {
    const w = Array.from(encoder.encode(m[0]), (b) => byteChar[b]).join("");
    counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  const words = [...counts].map(([w, n]) => ({ symbols: [...w], n }));
  const merges: [string, string][] = [];
  while (firstId + vocab.size < vocabSize) {
    const pairs = new Map<string, number>();
    for (const { symbols, n } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = symbols[i] + "\u0000" + symbols[i + 1];
        pairs.set(key, (pairs.get(key) ?? 0) + n);
      }
    }
    let best: string | undefined;
    let bestN = 0;
    for (const [k, n] of pairs) if (n > bestN || (n === bestN && best !== undefined && k < best)) { best = k; bestN = n; }
    if (best === undefined) break;
    const [a, b] = best.split("\u0000") as [string, string];
    merges.push([a, b]);
    if (!vocab.has(a + b)) vocab.set(a + b, firstId + vocab.size);
    for (const w of words) {
      const s = w.symbols;
      const out: string[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) { out.push(a + b); i++; } else out.push(s[i]);
      }
      w.symbols = out;
    }
  }
  return { vocab, merges };
}

type Added = { id: number; content: string; special: boolean };

function specialTokens(): Added[] {
  const names = ["<unk>", "<s>", "</s>"];
  for (let i = 3; i < TINY_SPECIAL_COUNT; i++) names.push(`<SPECIAL_${i}>`);
  return [
    ...names.map((content, id) => ({ id, content, special: true })),
    // Not special: they stay in decoded text even when special tokens are skipped.
    { id: TINY_THINK_ID, content: "<think>", special: false },
    { id: TINY_END_THINK_ID, content: "</think>", special: false },
  ];
}

/** The tokenizer.json object (Hugging Face tokenizers schema). */
export function tinyTokenizerJson(vocabSize: number): Record<string, unknown> {
  if (!Number.isInteger(vocabSize) || vocabSize < TINY_TOKENIZER_MIN_VOCAB) {
    throw new Error(`tiny tokenizer: vocab_size must be an integer >= ${TINY_TOKENIZER_MIN_VOCAB} (specials + 256 bytes), got ${vocabSize}`);
  }
  const { vocab, merges } = trainByteLevelBpe(TINY_CORPUS, vocabSize);
  // Past what the built-in text can merge, the ids are reserved special tokens (real
  // checkpoints pad their vocabularies the same way), so every embedding row has a token.
  const added: Added[] = specialTokens();
  for (let id = FIRST_BYTE_ID + vocab.size; id < vocabSize; id++) added.push({ id, content: `<RESERVED_${id}>`, special: true });
  const fullVocab: Record<string, number> = {};
  for (const t of added) fullVocab[t.content] = t.id;
  for (const [k, v] of vocab) fullVocab[k] = v;
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  const bos = { id: "<s>", type_id: 0 };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added.map((t) => ({ id: t.id, content: t.content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: t.special })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: bos }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [{ SpecialToken: bos }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "<s>", type_id: 1 } }, { Sequence: { id: "B", type_id: 1 } }],
      special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } },
    },
    decoder: byteLevel,
    model: {
      type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab: fullVocab, merges,
    },
  };
}

/** The tokenizer_config.json object: special tokens, BOS on, and the Nano-v2-style chat template. */
export function tinyTokenizerConfig(): Record<string, unknown> {
  const decoder: Record<string, unknown> = {};
  for (const t of specialTokens()) {  // reserved padding tokens are listed in tokenizer.json only
    decoder[String(t.id)] = { content: t.content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: t.special };
  }
  return {
    add_bos_token: true,
    add_eos_token: false,
    added_tokens_decoder: decoder,
    bos_token: "<s>",
    eos_token: "<SPECIAL_12>",
    unk_token: "<unk>",
    pad_token: "<unk>",
    clean_up_tokenization_spaces: false,
    model_max_length: 4096,
    tokenizer_class: "PreTrainedTokenizerFast",
    chat_template: NANO_V2_CHAT_TEMPLATE,
  };
}

/** Writes tokenizer.json and tokenizer_config.json into dir. */
export function writeTinyTokenizer(dir: string, vocabSize: number): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(tinyTokenizerJson(vocabSize), null, 2) + "\n");
  fs.writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify(tinyTokenizerConfig(), null, 2) + "\n");
}
