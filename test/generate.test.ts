import { describe, it, expect, beforeAll } from "vitest";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { generate, stream, TextTokenizer, writeTinyTokenizer, GenerationChunk } from "../src/index";
import { scriptedLM, hashLM } from "./helpers/fake-lm";

let tok: TextTokenizer;
beforeAll(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nl-gen-"));
  writeTinyTokenizer(dir, 1024);
  tok = TextTokenizer.load(dir);
});
const enc = (s: string) => tok.encode(s, { addSpecialTokens: false });

describe("generation loop", () => {
  it("greedy decoding follows the model, stops at eos (<SPECIAL_12>) and reports timings", async () => {
    const script = [...enc("Hello there, friend."), 12, ...enc(" never")];
    const model = scriptedLM(script);
    const r = await generate(model, tok, { prompt: "Hi", maxTokens: 50 });
    expect(r.finishReason).toBe("eos");
    expect(r.stoppedBy).toBe(12);
    expect(r.text).toBe("Hello there, friend.");
    expect(r.ids).toEqual(script.slice(0, script.indexOf(12) + 1));
    expect(r.promptIds).toEqual(tok.encode("Hi"));
    expect(r.promptTokens).toBe(r.promptIds.length);
    expect(r.prefillTokensPerS).toBeGreaterThan(0);
    expect(r.decodeTokensPerS).toBeGreaterThan(0);
    // One prefill forward, then one per generated token except the last.
    expect(model.forwards).toBe(1 + r.ids.length - 1);
  });

  it("</s> and the config's eos_token_id stop too; ignoreEos runs on to maxTokens", async () => {
    expect((await generate(scriptedLM([...enc("ab"), 2]), tok, { ids: [1, 5], maxTokens: 9 })).finishReason).toBe("eos");
    const script = [...enc("ab"), 12, ...enc("cd")];
    const r = await generate(scriptedLM(script), tok, { ids: [1, 5], maxTokens: script.length, ignoreEos: true });
    expect(r.finishReason).toBe("length");
    expect(r.ids).toEqual(script);
    expect(r.text).toBe("ab<SPECIAL_12>cd");
    const noTok = await generate(scriptedLM([7, 8, 12, 9]), undefined, { ids: [1], maxTokens: 9 });
    expect(noTok).toMatchObject({ ids: [7, 8, 12], finishReason: "eos", text: undefined });
  });

  it("maxTokens caps the reply", async () => {
    const r = await generate(scriptedLM(enc("one two three four five six")), tok, { prompt: "x", maxTokens: 3 });
    expect(r.finishReason).toBe("length");
    expect(r.ids).toHaveLength(3);
    expect(r.text).toBe(tok.decode(r.ids));
  });

  it("stop strings across token boundaries: nothing past the stop string is emitted", async () => {
    const script = enc("Hello world. Then more text");
    expect(script.length).toBeGreaterThan(4);
    const chunks: GenerationChunk[] = [];
    const r = await generate(scriptedLM(script), tok, { prompt: "x", maxTokens: 40, stop: ["lo wor", "never"], onChunk: (c) => chunks.push(c) });
    expect(r.finishReason).toBe("stop");
    expect(r.stoppedBy).toBe("lo wor");
    expect(r.text).toBe("Hel");
    expect(chunks.map((c) => c.text).join("")).toBe("Hel");
    expect(tok.decode(r.ids)).toContain("lo wor");  // the ids include the token that completed it
  });

  it("text held back as a possible stop string is released when it turns out not to be one", async () => {
    const chunks: GenerationChunk[] = [];
    const r = await generate(scriptedLM([...enc("Hello world. Bye"), 12]), tok, { prompt: "x", maxTokens: 40, stop: ["world!"], onChunk: (c) => chunks.push(c) });
    expect(r.finishReason).toBe("eos");
    expect(r.text).toBe("Hello world. Bye");
    expect(chunks.map((c) => c.text).join("")).toBe("Hello world. Bye");
    // "world" was held until "." showed it is not "world!".
    const worldAt = chunks.findIndex((c) => c.text.includes("world"));
    expect(chunks[worldAt].text).toContain(".");
  });

  it("streams a multi-byte character split across tokens only when complete", async () => {
    const script = [...enc("ж"), ...enc("🙂"), ...enc(" ok")];
    expect(enc("ж")).toHaveLength(2);
    const texts: string[] = [];
    for await (const c of stream(scriptedLM([...script, 12]), tok, { prompt: "x", maxTokens: 40 })) texts.push(c.text);
    expect(texts[0]).toBe("");
    expect(texts[1]).toBe("ж");
    expect(texts.join("")).toBe("ж🙂 ok");
    for (const t of texts) expect(t).not.toContain("\uFFFD");
  });

  it("an abort mid-generation stops cleanly, and the model generates again afterwards", async () => {
    const script = enc("one two three four five six seven eight nine ten");
    const model = scriptedLM(script, 0);
    const full = await generate(model, tok, { prompt: "count", maxTokens: script.length });
    const ac = new AbortController();
    const partial = await generate(model, tok, {
      prompt: "count", maxTokens: script.length, signal: ac.signal,
      onChunk: (c) => { if (c.index === 2) ac.abort(); },
    });
    expect(partial.finishReason).toBe("aborted");
    expect(partial.ids).toEqual(full.ids.slice(0, 3));
    expect(partial.text).toBe(tok.decode(full.ids.slice(0, 3)));
    const again = await generate(model, tok, { prompt: "count", maxTokens: script.length });
    expect(again.ids).toEqual(full.ids);
    expect(again.text).toBe(full.text);
  });

  it("an abort that lands inside a forward is reported as aborted, not thrown", async () => {
    const ac = new AbortController();
    const model = scriptedLM(enc("a b c d e f"), 0, 1024, (call) => { if (call === 3) ac.abort(); });
    const r = await generate(model, tok, { prompt: "x", maxTokens: 20, signal: ac.signal });
    expect(r.finishReason).toBe("aborted");
    expect(r.ids).toHaveLength(3);
    const pre = new AbortController();
    pre.abort();
    expect((await generate(model, tok, { prompt: "x", signal: pre.signal })).ids).toEqual([]);
  });

  it("yields to the event loop between tokens, so an interrupt scheduled outside can land", async () => {
    const ac = new AbortController();
    const model = hashLM(64);
    const pending = generate(model, undefined, { ids: [1, 2], maxTokens: 100_000, maxContext: 200_000, ignoreEos: true, temperature: 1, signal: ac.signal });
    setImmediate(() => ac.abort());
    const r = await pending;
    expect(r.finishReason).toBe("aborted");
    expect(r.ids.length).toBeLessThan(100_000);
  });

  it("breaking out of the stream ends the generation as aborted", async () => {
    const s = stream(scriptedLM(enc("a b c d e f g")), tok, { prompt: "x", maxTokens: 20 });
    for await (const c of s) if (c.index === 1) break;
    const r = await s.result;
    expect(r.finishReason).toBe("aborted");
    expect(r.ids).toHaveLength(2);
    expect(() => s[Symbol.asyncIterator]()).toThrow(/only once/);
  });

  it("the same seed gives the same tokens; sampling options change them", async () => {
    const model = hashLM(64);
    const run = (o: object) => generate(model, undefined, { ids: [3, 4], maxTokens: 40, ignoreEos: true, temperature: 1, ...o }).then((r) => r.ids);
    const a = await run({ seed: 11 });
    expect(await run({ seed: 11 })).toEqual(a);
    expect(await run({ seed: 12 })).not.toEqual(a);
    expect(await run({ seed: 11, topK: 1 })).toEqual(await run({ temperature: 0 }));
    const penalised = await run({ temperature: 0, repetitionPenalty: 100 });
    expect(new Set(penalised).size).toBe(penalised.length);  // a huge penalty never repeats a token
  });

  it("stream().result alone runs the generation", async () => {
    const r = await stream(scriptedLM([...enc("hi"), 12]), tok, { prompt: "x" }).result;
    expect(r.text).toBe("hi");
  });

  it("chat prompts go through the template without BOS; thinking off uses <think></think>", async () => {
    const r = await generate(scriptedLM([12]), tok, { prompt: "Hi", chat: true, system: "Be brief", thinking: false });
    expect(tok.decode(r.promptIds)).toBe("<SPECIAL_10>System\nBe brief\n<SPECIAL_11>User\nHi\n<SPECIAL_11>Assistant\n<think></think>");
    const m = await generate(scriptedLM([12]), tok, { messages: [{ role: "user", content: "Q /no_think" }] });
    expect(tok.decode(m.promptIds)).toBe("<SPECIAL_10>System\n\n<SPECIAL_11>User\nQ\n<SPECIAL_11>Assistant\n<think></think>");
  });

  it("bad input fails before any forward, with a clear message", () => {
    const model = scriptedLM([12]);
    expect(() => stream(model, tok, { ids: [1, 1024] })).toThrow(/prompt token 1 is 1024, outside the vocabulary \[0, 1024\)/);
    expect(() => stream(model, tok, { ids: [-1] })).toThrow(/outside the vocabulary/);
    expect(() => stream(model, tok, { ids: [] })).toThrow(/ids is empty/);
    expect(() => stream(model, tok, { prompt: "" })).toThrow(/prompt is empty/);
    expect(() => stream(model, undefined, { prompt: "hi" })).toThrow(/needs a tokenizer/);
    expect(() => stream(model, tok, { prompt: "hi", ids: [1] })).toThrow(/exactly one/);
    expect(() => stream(model, tok, {})).toThrow(/exactly one/);
    expect(() => stream(model, undefined, { ids: [1], stop: ["x"] })).toThrow(/stop strings need a tokenizer/);
    expect(() => stream(model, tok, { ids: [1, 2, 3], maxTokens: 8, maxContext: 10 })).toThrow(/3 tokens.*8.*11 tokens, longer than the context of 10/);
    expect(() => stream(model, tok, { ids: [1], maxTokens: 5000 })).toThrow(/longer than the context of 4096/);  // config max_position_embeddings
    expect(() => stream(model, tok, { ids: [1], maxTokens: 0 })).toThrow(/maxTokens/);
    expect(() => stream(model, tok, { ids: [1], topP: 2 })).toThrow(/topP/);
    expect(model.forwards).toBe(0);
  });
});

describe("interrupts from a notebook", () => {
  it("a generation without a signal stops when the running cell's signal (published by the kernel) aborts", async () => {
    const key = Symbol.for("nemotron-lab.currentCellSignal");
    const cell = new AbortController();
    const g = globalThis as Record<symbol, unknown>;
    g[key] = () => cell.signal;
    try {
      let seen = 0;
      const s = stream(hashLM(), undefined, { ids: [1, 2], maxTokens: 1000, ignoreEos: true });
      for await (const _ of s) if (++seen === 5) cell.abort();  // keeps iterating: the generation itself must stop
      const r = await s.result;
      expect(r.finishReason).toBe("aborted");
      expect(r.generatedTokens).toBeLessThan(10);
    } finally {
      delete g[key];
    }
  });
});
