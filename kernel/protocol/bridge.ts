/**
 * What crosses between the socket thread (worker.ts) and the main thread (transport.ts).
 * Messages are already decoded and verified on the way in, and signed on the way out by the worker.
 */
import type { ConnectionInfo } from "./connection";
import type { Message } from "./messages";

export type InChannel = "shell" | "control" | "stdin";
export type OutChannel = InChannel | "iopub";

export interface WorkerInit {
  connection: ConnectionInfo;
  session: string;
  /** Int32Array(1) view: 1 while an interrupt_request waits for the main thread to act on it. */
  interruptFlag: SharedArrayBuffer;
}

export type ToMain =
  | { kind: "ready" }
  | { kind: "request"; channel: InChannel; identities: Uint8Array[]; msg: Message }
  /** interrupt_request arrived; the shared flag is set until the main thread clears it. */
  | { kind: "interrupt" }
  | { kind: "log"; text: string }
  | { kind: "closed" };

export type ToWorker =
  | { kind: "send"; channel: OutChannel; identities: Uint8Array[]; msg: Message }
  | { kind: "close" };
