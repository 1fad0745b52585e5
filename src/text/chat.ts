/**
 * Chat prompts: renders any tokenizer_config.json `chat_template` (Jinja, via @huggingface/jinja)
 * with the messages, `add_generation_prompt` and whatever extra keyword arguments the template
 * reads (`enable_thinking`, `tools`, ...), the way transformers' apply_chat_template does.
 *
 * NANO_V2_CHAT_TEMPLATE is the Nano-v2-style template written into the tiny checkpoint
 * (docs/model.md section 10): <SPECIAL_10>System, <SPECIAL_11>User/Assistant turns, a
 * reasoning switch (/think or /no_think in system or user messages, the last one wins, on by
 * default; an `enable_thinking` kwarg sets the default), past assistant turns keep only the
 * text after </think>, turns end with `\n<SPECIAL_12>\n\n`, and the generation prompt opens
 * `<think>\n` (or the empty `<think></think>` when thinking is off). The system block ends with
 * one newline, as llama.cpp's rendering of the real template shows
 * (`<SPECIAL_10>System\n\n<SPECIAL_11>User\n...` for an empty system prompt).
 */
import { Template } from "@huggingface/jinja";
import { UserError } from "../util/errors";

export type ChatRole = "system" | "user" | "assistant" | "tool";

export interface ChatMessage {
  role: ChatRole | string;
  content: string;
}

export const NANO_V2_CHAT_TEMPLATE = [
  "{%- set ns = namespace(thinking=true) -%}",
  "{%- if enable_thinking is defined and enable_thinking is not none -%}{%- set ns.thinking = enable_thinking -%}{%- endif -%}",
  "{#- The reasoning switch: the last /think or /no_think in a system or user message wins. -#}",
  "{%- for message in messages -%}",
  "{%- if message['role'] == 'system' or message['role'] == 'user' -%}",
  "{%- if '/no_think' in (message['content'].split('/think') | last) -%}{%- set ns.thinking = false -%}",
  "{%- elif '/think' in message['content'] -%}{%- set ns.thinking = true -%}{%- endif -%}",
  "{%- endif -%}",
  "{%- endfor -%}",
  "{%- if messages and messages[0]['role'] == 'system' -%}",
  "{%- set system = messages[0]['content'] | replace('/no_think', '') | replace('/think', '') | trim -%}",
  "{%- set loop_messages = messages[1:] -%}",
  "{%- else -%}",
  "{%- set system = '' -%}",
  "{%- set loop_messages = messages -%}",
  "{%- endif -%}",
  "{{- '<SPECIAL_10>System\\n' + system + '\\n' -}}",
  "{%- for message in loop_messages -%}",
  "{%- if message['role'] == 'user' -%}",
  "{{- '<SPECIAL_11>User\\n' + (message['content'] | replace('/no_think', '') | replace('/think', '') | trim) + '\\n' -}}",
  "{%- elif message['role'] == 'assistant' -%}",
  "{{- '<SPECIAL_11>Assistant\\n' + (message['content'].split('</think>') | last | trim) + '\\n<SPECIAL_12>\\n\\n' -}}",
  "{%- elif message['role'] == 'tool' -%}",
  "{{- '<SPECIAL_11>User\\n<TOOL_RESPONSE>[' + message['content'] + ']</TOOL_RESPONSE>\\n\\n' -}}",
  "{%- else -%}",
  "{{- raise_exception('chat template: unknown role ' + message['role'] + ' (expected system, user, assistant or tool)') -}}",
  "{%- endif -%}",
  "{%- endfor -%}",
  "{%- if add_generation_prompt -%}",
  "{{- '<SPECIAL_11>Assistant\\n' + ('<think>\\n' if ns.thinking else '<think></think>') -}}",
  "{%- endif -%}",
].join("\n");

export interface ChatTemplateOptions {
  /** Append the assistant turn opener (default true). */
  addGenerationPrompt?: boolean;
  /** Extra template variables: enable_thinking, tools, bos_token, ... */
  kwargs?: Record<string, unknown>;
}

const compiled = new Map<string, Template>();

/** Renders a Jinja chat template; errors name the template source and the failing call. */
export function renderChatTemplate(template: string, messages: ChatMessage[], options: ChatTemplateOptions = {}, source = "chat_template"): string {
  if (!Array.isArray(messages) || messages.length === 0) throw new UserError("chat: messages must be a non-empty array of {role, content}");
  for (const [i, m] of messages.entries()) {
    if (!m || typeof m.role !== "string" || typeof m.content !== "string") {
      throw new UserError(`chat: message ${i} must be {role: string, content: string}, got ${JSON.stringify(m)}`);
    }
  }
  let t = compiled.get(template);
  if (!t) {
    try {
      t = new Template(template);
    } catch (e) {
      throw new UserError(`${source}: cannot parse the Jinja chat template: ${(e as Error).message}`);
    }
    compiled.set(template, t);
  }
  try {
    return t.render({
      ...options.kwargs,
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? true,
    });
  } catch (e) {
    throw new UserError(`${source}: rendering the chat template failed: ${(e as Error).message}`);
  }
}

/** The messages for a prompt: an optional system message, then the user's text. */
export function chatMessages(prompt: string, system?: string): ChatMessage[] {
  return [...(system !== undefined ? [{ role: "system", content: system }] : []), { role: "user", content: prompt }];
}
