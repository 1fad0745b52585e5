/**
 * The text side of a checkpoint: tokenizer.json through @huggingface/tokenizers, the chat
 * template from tokenizer_config.json (or chat_template.jinja), the stop ids, and a streaming
 * decoder that never emits a broken UTF-8 character.
 *
 * Decoding of byte-level BPE tokenizers (Nano-v2's kind) is done here from each token's bytes,
 * with a streaming TextDecoder that holds a character's bytes until it is complete, so the
 * streamed pieces always add up to exactly the full decode (what Python `tokenizers` returns).
 * Other tokenizer kinds fall back to incremental decoding: re-decode a short window of recent
 * ids and emit what grew, holding back while the window ends in U+FFFD.
 */
import * as fs from "fs";
import * as path from "path";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { bytesToUnicode } from "./byte-level";
import { ChatMessage, ChatTemplateOptions, renderChatTemplate } from "./chat";
import { UserError } from "../util/errors";

export interface EncodeOptions {
  /** Let the tokenizer's post-processor add its special tokens (BOS); default true. */
  addSpecialTokens?: boolean;
}

/** Turns generated ids into text pieces; push returns what became printable, flush the rest. */
export interface StreamDecoder {
  push(id: number): string;
  flush(): string;
}

type Json = Record<string, unknown>;

export class TextTokenizer {
  /** Number of ids the tokenizer knows (the largest id + 1, added tokens included). */
  readonly vocabSize: number;
  /** The Jinja chat template, when the checkpoint ships one. */
  readonly chatTemplate: string | undefined;
  readonly bosId: number | undefined;
  /** Ids that end a reply: the tokenizer's eos_token, plus <SPECIAL_12> (Nano-v2's turn end) and </s> when present. */
  readonly eosIds: number[];
  /** The tokenizer_config.json object ({} when absent). */
  readonly config: Json;
  private readonly hf: HfTokenizer;
  private readonly byteLevel: boolean;
  private readonly addedContent = new Map<number, string>();
  private readonly specialIds = new Set<number>();
  private readonly byteOf = new Map<string, number>();
  private readonly bytesCache = new Map<number, Uint8Array>();

  constructor(tokenizerJson: Json, tokenizerConfig: Json = {}, readonly source = "tokenizer.json", chatTemplate?: string) {
    try {
      this.hf = new HfTokenizer(tokenizerJson, tokenizerConfig);
    } catch (e) {
      throw new UserError(`${source}: cannot build the tokenizer: ${(e as Error).message}`);
    }
    this.config = tokenizerConfig;
    for (const [id, t] of this.hf.get_added_tokens_decoder()) {
      this.addedContent.set(id, t.content);
      if (t.special) this.specialIds.add(id);
    }
    this.vocabSize = (this.hf as unknown as { model: { vocab: unknown[] } }).model.vocab.length;
    this.byteLevel = usesByteLevelDecoder(tokenizerJson.decoder);
    bytesToUnicode().forEach((ch, b) => this.byteOf.set(ch, b));
    this.chatTemplate = chatTemplate ?? pickChatTemplate(tokenizerConfig.chat_template);
    this.bosId = this.idOf(tokenName(tokenizerConfig.bos_token));
    const eos = [this.idOf(tokenName(tokenizerConfig.eos_token)), this.hf.token_to_id("<SPECIAL_12>"), this.hf.token_to_id("</s>")];
    this.eosIds = [...new Set(eos.filter((x): x is number => x !== undefined))];
  }

  /** Loads tokenizer.json (required) and tokenizer_config.json / chat_template.jinja (optional) from a folder. */
  static load(dir: string): TextTokenizer {
    const file = path.join(dir, "tokenizer.json");
    if (!fs.existsSync(file)) throw new UserError(`${file}: no tokenizer.json in the checkpoint folder (needed for text prompts; pass token ids instead)`);
    const json = readJson(file);
    const cfgFile = path.join(dir, "tokenizer_config.json");
    const cfg = fs.existsSync(cfgFile) ? readJson(cfgFile) : {};
    const jinjaFile = path.join(dir, "chat_template.jinja");
    const jinja = fs.existsSync(jinjaFile) ? fs.readFileSync(jinjaFile, "utf8") : undefined;
    return new TextTokenizer(json, cfg, file, jinja);
  }

  /** Like load, but undefined when the folder has no tokenizer.json. */
  static tryLoad(dir: string): TextTokenizer | undefined {
    return fs.existsSync(path.join(dir, "tokenizer.json")) ? TextTokenizer.load(dir) : undefined;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    return this.hf.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  /** The text of ids, special tokens included (Python tokenizers' decode(ids, skip_special_tokens=False)). */
  decode(ids: ArrayLike<number>, options: { skipSpecialTokens?: boolean } = {}): string {
    const list = Array.from(ids).filter((id) => !(options.skipSpecialTokens && this.specialIds.has(id)));
    if (list.length === 0) return "";
    if (!this.byteLevel) {
      return this.hf.decode(list, { skip_special_tokens: false, clean_up_tokenization_spaces: this.config.clean_up_tokenization_spaces === true });
    }
    const d = this.streamDecoder();
    return list.map((id) => d.push(id)).join("") + d.flush();
  }

  tokenToId(token: string): number | undefined {
    return this.hf.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.hf.id_to_token(id);
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  /** Renders the chat template (see chat.ts); special token strings are passed as transformers does. */
  applyChatTemplate(messages: ChatMessage[], options: ChatTemplateOptions = {}): string {
    if (!this.chatTemplate) throw new UserError(`${this.source}: the tokenizer_config.json has no chat_template (use a plain prompt instead of chat)`);
    const specials: Json = {};
    for (const k of ["bos_token", "eos_token", "unk_token", "pad_token"]) {
      const name = tokenName(this.config[k]);
      if (name !== undefined) specials[k] = name;
    }
    return renderChatTemplate(this.chatTemplate, messages, { ...options, kwargs: { ...specials, ...options.kwargs } }, `${this.source} chat_template`);
  }

  /** The UTF-8 bytes a token stands for (byte-level tokenizers); unknown ids give no bytes. */
  tokenBytes(id: number): Uint8Array {
    let b = this.bytesCache.get(id);
    if (b) return b;
    const added = this.addedContent.get(id);
    if (added !== undefined) b = new TextEncoder().encode(added);
    else {
      const tok = this.hf.id_to_token(id);
      if (tok === undefined) b = new Uint8Array(0);
      else {
        const out: number[] = [];
        for (const ch of tok) {
          const byte = this.byteOf.get(ch);
          if (byte !== undefined) out.push(byte);
          else out.push(...new TextEncoder().encode(ch));  // not in the byte alphabet: take it as text
        }
        b = Uint8Array.from(out);
      }
    }
    this.bytesCache.set(id, b);
    return b;
  }

  private idOf(name: string | undefined): number | undefined {
    return name === undefined ? undefined : this.hf.token_to_id(name);
  }

  /** A fresh streaming decoder (one per generation). */
  streamDecoder(): StreamDecoder {
    if (this.byteLevel) {
      const td = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
      return {
        push: (id) => td.decode(this.tokenBytes(id), { stream: true }),
        flush: () => td.decode(),
      };
    }
    return new IncrementalDecoder(this);
  }
}

/** Generic fallback: decode a window of recent ids; emit the growth once it no longer ends in U+FFFD. */
class IncrementalDecoder implements StreamDecoder {
  private ids: number[] = [];
  private prefix = 0;
  private read = 0;
  constructor(private readonly tok: TextTokenizer) {}

  push(id: number): string {
    this.ids.push(id);
    const before = this.tok.decode(this.ids.slice(this.prefix, this.read));
    const now = this.tok.decode(this.ids.slice(this.prefix));
    if (now.length > before.length && !now.endsWith("\uFFFD")) {
      this.prefix = this.read;
      this.read = this.ids.length;
      return now.slice(before.length);
    }
    return "";
  }

  flush(): string {
    const before = this.tok.decode(this.ids.slice(this.prefix, this.read));
    const now = this.tok.decode(this.ids.slice(this.prefix));
    this.prefix = this.read = this.ids.length;
    return now.slice(before.length);
  }
}

function usesByteLevelDecoder(decoder: unknown): boolean {
  const d = decoder as { type?: string; decoders?: unknown[] } | null | undefined;
  if (!d) return false;
  if (d.type === "ByteLevel") return true;
  return d.type === "Sequence" && Array.isArray(d.decoders) && d.decoders.length === 1 && usesByteLevelDecoder(d.decoders[0]);
}

/** tokenizer_config's chat_template is a string or a list of {name, template}; take "default". */
function pickChatTemplate(t: unknown): string | undefined {
  if (typeof t === "string") return t;
  if (Array.isArray(t)) {
    const named = t as { name?: string; template?: string }[];
    return (named.find((x) => x.name === "default") ?? named[0])?.template;
  }
  return undefined;
}

/** Special tokens in tokenizer_config are strings or {content: ...}. */
function tokenName(t: unknown): string | undefined {
  if (typeof t === "string") return t;
  if (t && typeof t === "object" && typeof (t as { content?: unknown }).content === "string") return (t as { content: string }).content;
  return undefined;
}

function readJson(file: string): Json {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new UserError(`${file}: cannot read: ${(e as Error).message}`);
  }
  try {
    const v = JSON.parse(text);
    if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("expected a JSON object");
    return v as Json;
  } catch (e) {
    throw new UserError(`${file}: invalid JSON: ${(e as Error).message}`);
  }
}
