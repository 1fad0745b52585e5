/**
 * The main thread's view of the sockets: start the socket thread, receive verified requests,
 * send messages (signed there). The rest of the kernel talks to this, never to ZeroMQ.
 */
import { EventEmitter } from "events";
import * as path from "path";
import { Worker } from "worker_threads";
import type { ConnectionInfo } from "./connection";
import type { InChannel, OutChannel, ToMain, ToWorker, WorkerInit } from "./bridge";
import type { Message } from "./messages";

export interface TransportEvents {
  request: (channel: InChannel, msg: Message, identities: Uint8Array[]) => void;
  interrupt: () => void;
  log: (text: string) => void;
}

export class Transport extends EventEmitter {
  private readonly worker: Worker;
  private readonly ready: Promise<void>;
  private closed?: Promise<void>;

  constructor(connection: ConnectionInfo, readonly session: string, readonly interruptFlag: SharedArrayBuffer) {
    super();
    const init: WorkerInit = { connection, session, interruptFlag };
    this.worker = new Worker(path.join(__dirname, "worker.js"), { workerData: init });
    let onReady!: () => void;
    let onFail!: (e: Error) => void;
    this.ready = new Promise((res, rej) => { onReady = res; onFail = rej; });
    this.worker.on("message", (m: ToMain) => {
      switch (m.kind) {
        case "ready": onReady(); break;
        case "request": this.emit("request", m.channel, m.msg, m.identities); break;
        case "interrupt": this.emit("interrupt"); break;
        case "log": this.emit("log", m.text); break;
        case "closed": onFail(new Error("the socket thread stopped")); this.emit("closed"); break;
      }
    });
    this.worker.on("error", (e) => { onFail(e); this.emit("log", `socket thread error: ${String(e)}`); });
  }

  start(): Promise<void> {
    return this.ready;
  }

  send(channel: OutChannel, msg: Message, identities: Uint8Array[] = []): void {
    const m: ToWorker = { kind: "send", channel, identities, msg };
    this.worker.postMessage(m);
  }

  /** Flushes queued sends and closes the sockets (exiting with sockets open aborts zeromq). */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = new Promise<void>((res) => {
        const t = setTimeout(res, 3000);
        this.once("closed", () => { clearTimeout(t); res(); });
        this.worker.postMessage({ kind: "close" } satisfies ToWorker);
      }).then(() => this.worker.terminate().then(() => undefined));
    }
    return this.closed;
  }
}
