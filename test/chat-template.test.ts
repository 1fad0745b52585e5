import { describe, it, expect, beforeAll } from "vitest";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { TextTokenizer, writeTinyTokenizer, renderChatTemplate, NANO_V2_CHAT_TEMPLATE, ChatMessage } from "../src/index";
import { hasPythonModule, noVenvReason, runPython, warnSkip } from "./helpers/python";

const render = (messages: ChatMessage[], kwargs?: Record<string, unknown>, addGenerationPrompt = true) =>
  renderChatTemplate(NANO_V2_CHAT_TEMPLATE, messages, { kwargs, addGenerationPrompt });

const CASES: { messages: ChatMessage[]; kwargs?: Record<string, unknown> }[] = [
  { messages: [{ role: "user", content: "Hello" }] },
  { messages: [{ role: "system", content: "You are terse." }, { role: "user", content: "Hi" }] },
  { messages: [{ role: "system", content: "Be brief /no_think" }, { role: "user", content: "Hi" }] },
  { messages: [{ role: "system", content: "/no_think" }, { role: "user", content: "Hi /think" }] },
  { messages: [{ role: "user", content: "first /think then /no_think" }] },
  { messages: [{ role: "user", content: "Q1" }, { role: "assistant", content: "<think>\nlong reasoning\n</think>\n\nA1" }, { role: "user", content: "Q2" }] },
  { messages: [{ role: "user", content: "Hi" }], kwargs: { enable_thinking: false } },
  { messages: [{ role: "user", content: "Hi /think" }], kwargs: { enable_thinking: false } },
];

describe("Nano-v2-style chat template", () => {
  it("system, user and the thinking generation prompt", () => {
    expect(render([{ role: "user", content: "Hello" }]))
      .toBe("<SPECIAL_10>System\n\n<SPECIAL_11>User\nHello\n<SPECIAL_11>Assistant\n<think>\n");
    expect(render([{ role: "system", content: "You are terse." }, { role: "user", content: " Hi " }]))
      .toBe("<SPECIAL_10>System\nYou are terse.\n<SPECIAL_11>User\nHi\n<SPECIAL_11>Assistant\n<think>\n");
    expect(render([{ role: "user", content: "Hello" }], undefined, false)).toBe("<SPECIAL_10>System\n\n<SPECIAL_11>User\nHello\n");
  });

  it("/no_think turns reasoning off and is stripped from the text", () => {
    expect(render([{ role: "system", content: "Be brief /no_think" }, { role: "user", content: "Hi" }]))
      .toBe("<SPECIAL_10>System\nBe brief\n<SPECIAL_11>User\nHi\n<SPECIAL_11>Assistant\n<think></think>");
  });

  it("the last switch wins, across messages and within one", () => {
    const gen = (m: ChatMessage[], k?: Record<string, unknown>) => render(m, k).split("<SPECIAL_11>Assistant\n").pop();
    expect(gen([{ role: "system", content: "/no_think" }, { role: "user", content: "Hi /think" }])).toBe("<think>\n");
    expect(gen([{ role: "system", content: "/think" }, { role: "user", content: "Hi /no_think" }])).toBe("<think></think>");
    expect(gen([{ role: "user", content: "a /think b /no_think" }])).toBe("<think></think>");
    expect(gen([{ role: "user", content: "a /no_think b /think" }])).toBe("<think>\n");
    expect(gen([{ role: "user", content: "Hi" }], { enable_thinking: false })).toBe("<think></think>");
    expect(gen([{ role: "user", content: "Hi /think" }], { enable_thinking: false })).toBe("<think>\n");
  });

  it("past assistant turns keep only the text after </think> and end with <SPECIAL_12>", () => {
    expect(render(CASES[5].messages)).toBe(
      "<SPECIAL_10>System\n\n<SPECIAL_11>User\nQ1\n<SPECIAL_11>Assistant\nA1\n<SPECIAL_12>\n\n<SPECIAL_11>User\nQ2\n<SPECIAL_11>Assistant\n<think>\n");
    expect(render([{ role: "user", content: "Q" }, { role: "assistant", content: "plain" }], undefined, false))
      .toBe("<SPECIAL_10>System\n\n<SPECIAL_11>User\nQ\n<SPECIAL_11>Assistant\nplain\n<SPECIAL_12>\n\n");
  });

  it("bad messages and unknown roles fail clearly", () => {
    expect(() => render([])).toThrow(/non-empty/);
    expect(() => render([{ role: "user" } as ChatMessage])).toThrow(/message 0/);
    expect(() => render([{ role: "robot", content: "x" }])).toThrow(/unknown role robot/);
    expect(() => renderChatTemplate("{% if %}", [{ role: "user", content: "x" }])).toThrow(/cannot parse/);
  });

  it("any template string works, with kwargs passed through", () => {
    const t = "{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}{% if add_generation_prompt %}<{{ who }}>{% endif %}";
    expect(renderChatTemplate(t, [{ role: "user", content: "x" }], { kwargs: { who: "bot" } })).toBe("[user:x]<bot>");
  });
});

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "nl-chat-"));
  writeTinyTokenizer(dir, 1024);
});

describe("chat through the tokenizer", () => {
  it("applyChatTemplate passes special tokens and the template renders like the raw call", () => {
    const tok = TextTokenizer.load(dir);
    for (const c of CASES) expect(tok.applyChatTemplate(c.messages, { kwargs: c.kwargs })).toBe(render(c.messages, c.kwargs));
  });

  it("a tokenizer without a template says so", () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "nl-notpl-"));
    fs.copyFileSync(path.join(dir, "tokenizer.json"), path.join(d, "tokenizer.json"));
    expect(() => TextTokenizer.load(d).applyChatTemplate([{ role: "user", content: "x" }])).toThrow(/no chat_template/);
  });

  it("chat_template.jinja beside tokenizer.json is used when present", () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), "nl-jinja-"));
    fs.copyFileSync(path.join(dir, "tokenizer.json"), path.join(d, "tokenizer.json"));
    fs.writeFileSync(path.join(d, "chat_template.jinja"), "{{ messages[0].content }}!");
    expect(TextTokenizer.load(d).applyChatTemplate([{ role: "user", content: "hey" }])).toBe("hey!");
  });
});

const pyOk = hasPythonModule("transformers");
if (!pyOk) warnSkip("transformers apply_chat_template parity (chat-template.test.ts)", noVenvReason("transformers"));
describe.skipIf(!pyOk)("parity with transformers apply_chat_template", () => {
  it("same prompt text and ids for every case", () => {
    const script = `
import json, sys, warnings
warnings.filterwarnings("ignore")
from transformers import AutoTokenizer
a = json.load(sys.stdin)
t = AutoTokenizer.from_pretrained(a["dir"])
out = []
for c in a["cases"]:
    kw = c.get("kwargs") or {}
    text = t.apply_chat_template(c["messages"], tokenize=False, add_generation_prompt=True, **kw)
    ids = t(text, add_special_tokens=False).input_ids
    out.append({"text": text, "ids": ids})
print(json.dumps(out))`;
    const py = runPython(script, { dir, cases: CASES });
    const tok = TextTokenizer.load(dir);
    CASES.forEach((c, i) => {
      const text = tok.applyChatTemplate(c.messages, { kwargs: c.kwargs });
      expect(text).toBe(py[i].text);
      expect(tok.encode(text, { addSpecialTokens: false })).toEqual(py[i].ids);
    });
  });
});
