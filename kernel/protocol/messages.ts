/**
 * Jupyter messages (protocol 5.3) as one typed map keyed by msg_type, plus the helpers that build
 * headers and replies. Nothing here knows about TypeScript evaluation or about sockets.
 */
import { randomUUID } from "crypto";

export const PROTOCOL_VERSION = "5.3";

export interface Header {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
  [extra: string]: unknown;
}

export type MimeBundle = Record<string, unknown>;
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface ErrorContent { status: "error"; ename: string; evalue: string; traceback: string[]; [k: string]: unknown }
export interface HelpLink { text: string; url: string }

/** Contents of every message the kernel receives or sends, keyed by msg_type. */
export interface Contents {
  // shell / control requests
  kernel_info_request: Record<string, never>;
  execute_request: {
    code: string; silent?: boolean; store_history?: boolean;
    user_expressions?: Record<string, string>; allow_stdin?: boolean; stop_on_error?: boolean;
  };
  complete_request: { code: string; cursor_pos: number };
  inspect_request: { code: string; cursor_pos: number; detail_level?: 0 | 1 };
  is_complete_request: { code: string };
  history_request: {
    output: boolean; raw: boolean; hist_access_type: "range" | "tail" | "search";
    session?: number; start?: number; stop?: number; n?: number; pattern?: string; unique?: boolean;
  };
  comm_info_request: { target_name?: string };
  comm_open: { comm_id: string; target_name: string; data: Record<string, unknown>; target_module?: string };
  comm_msg: { comm_id: string; data: Record<string, unknown> };
  comm_close: { comm_id: string; data: Record<string, unknown> };
  shutdown_request: { restart: boolean };
  interrupt_request: Record<string, never>;
  connect_request: Record<string, never>;
  // replies
  kernel_info_reply: {
    status: "ok"; protocol_version: string; implementation: string; implementation_version: string;
    language_info: {
      name: string; version: string; mimetype: string; file_extension: string;
      pygments_lexer: string; codemirror_mode: string | Record<string, unknown>; nbconvert_exporter: string;
    };
    banner: string; help_links: HelpLink[]; debugger: boolean;
  };
  execute_reply: { status: "ok"; execution_count: number; payload: unknown[]; user_expressions: Record<string, unknown> }
    | (ErrorContent & { execution_count: number })
    | { status: "aborted"; execution_count: number };
  complete_reply: { status: "ok"; matches: string[]; cursor_start: number; cursor_end: number; metadata: Record<string, unknown> };
  inspect_reply: { status: "ok"; found: boolean; data: MimeBundle; metadata: Record<string, unknown> };
  is_complete_reply: { status: "complete" | "incomplete" | "invalid" | "unknown"; indent?: string };
  history_reply: { status: "ok"; history: Array<[number, number, string | [string, string | null]]> };
  comm_info_reply: { status: "ok"; comms: Record<string, { target_name: string }> };
  shutdown_reply: { status: "ok"; restart: boolean };
  interrupt_reply: { status: "ok" };
  connect_reply: { shell_port: number; iopub_port: number; stdin_port: number; hb_port: number; control_port: number };
  // iopub
  status: { execution_state: "busy" | "idle" | "starting" };
  execute_input: { code: string; execution_count: number };
  stream: { name: "stdout" | "stderr"; text: string };
  display_data: { data: MimeBundle; metadata: Record<string, unknown>; transient?: { display_id?: string } };
  update_display_data: { data: MimeBundle; metadata: Record<string, unknown>; transient: { display_id: string } };
  execute_result: { execution_count: number; data: MimeBundle; metadata: Record<string, unknown> };
  error: { ename: string; evalue: string; traceback: string[] };
  clear_output: { wait: boolean };
  // stdin
  input_request: { prompt: string; password: boolean };
  input_reply: { value: string; status?: string };
}

export type MsgType = keyof Contents;

/** A decoded message; `content` is typed when msg_type is one we know. */
export interface Message<T extends string = string> {
  header: Header & { msg_type: T };
  parent_header: Partial<Header>;
  metadata: Record<string, unknown>;
  content: T extends MsgType ? Contents[T] : Record<string, unknown>;
  buffers: Uint8Array[];
}

export function isMsgType<T extends MsgType>(msg: Message, type: T): msg is Message<T> {
  return msg.header.msg_type === type;
}

export function makeHeader(msgType: string, session: string): Header {
  return {
    msg_id: randomUUID(),
    session,
    username: "kernel",
    date: new Date().toISOString(),
    msg_type: msgType,
    version: PROTOCOL_VERSION,
  };
}

/** Builds a message of `msgType` whose parent is `parent` (its header, or {} for none). */
export function makeMessage<T extends MsgType>(
  msgType: T,
  content: Contents[T],
  parent: Partial<Header>,
  session: string,
  metadata: Record<string, unknown> = {},
  buffers: Uint8Array[] = [],
): Message<T> {
  return {
    header: makeHeader(msgType, session) as Header & { msg_type: T },
    parent_header: parent,
    metadata,
    content: content as Message<T>["content"],
    buffers,
  };
}

/** The reply type for a request type: execute_request -> execute_reply. */
export function replyType(requestType: string): string {
  return requestType.replace(/_request$/, "_reply");
}
