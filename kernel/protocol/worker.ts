/**
 * The socket thread. It owns the five ZeroMQ sockets, checks every signature, answers heartbeats
 * and interrupt_request itself, and hands every other verified message to the main thread.
 * Why a worker: a cell may block the main thread (a synchronous loop); heartbeat and control must
 * still answer then, and an interrupt must still reach the cell (we raise SIGINT on our own
 * process, which vm's breakOnSigint turns into an exception inside the running script).
 */
import { parentPort, workerData } from "worker_threads";
import * as zmq from "zeromq";
import { endpoint } from "./connection";
import type { ToMain, ToWorker, WorkerInit, InChannel, OutChannel } from "./bridge";
import { makeMessage, type Message } from "./messages";
import { decode, encode, Signer, WireError } from "./wire";
import { signalRunningScript } from "../session/interrupt";

const init = workerData as WorkerInit;
const port = parentPort!;
const signer = new Signer(init.connection.key);
const interruptFlag = new Int32Array(init.interruptFlag);

function post(m: ToMain): void {
  port.postMessage(m);
}
function log(text: string): void {
  post({ kind: "log", text });
}

/** zeromq 6 rejects a send while another is in flight on the same socket; queue them per socket. */
class SendQueue {
  private tail: Promise<void> = Promise.resolve();
  constructor(private readonly sock: zmq.Writable, private readonly name: string) {}
  push(frames: Buffer[]): void {
    this.tail = this.tail
      .then(() => this.sock.send(frames))
      .catch((e: unknown) => log(`send on ${this.name} failed: ${String(e)}`));
  }
  drain(): Promise<void> {
    return this.tail;
  }
}

const shell = new zmq.Router({ linger: 0 });
const control = new zmq.Router({ linger: 0 });
const stdin = new zmq.Router({ linger: 0 });
const iopub = new zmq.Publisher({ linger: 500 });
const hb = new zmq.Reply({ linger: 0 });

const queues: Record<OutChannel, SendQueue> = {
  shell: new SendQueue(shell, "shell"),
  control: new SendQueue(control, "control"),
  stdin: new SendQueue(stdin, "stdin"),
  iopub: new SendQueue(iopub, "iopub"),
};
let closing = false;

function send(channel: OutChannel, msg: Message, identities: Buffer[]): void {
  if (closing) return;
  // iopub: the topic frame lets subscribers filter; clients subscribe to everything.
  const ids = channel === "iopub" ? [Buffer.from(`kernel.${init.session}.${msg.header.msg_type}`)] : identities;
  queues[channel].push(encode(msg, signer, ids));
}

/**
 * interrupt_request is answered here because the main thread may be stuck in the cell. We raise
 * the shared flag and tell the main thread; if nothing clears the flag within 150 ms (the main
 * thread is blocked in code without interrupt checks), SIGINT breaks the script via breakOnSigint.
 * SIGINT is the last resort, and goes only to a running script body (signalRunningScript): one
 * that lands as a script ends is lost by Node's watchdog or kills the process.
 */
function handleInterrupt(msg: Message, identities: Buffer[]): void {
  const parent = msg.header;
  send("iopub", makeMessage("status", { execution_state: "busy" }, parent, init.session), []);
  try {
    Atomics.store(interruptFlag, 0, 1);
    post({ kind: "interrupt" });
    if (Atomics.wait(interruptFlag, 0, 1, 150) === "timed-out" && Atomics.load(interruptFlag, 0) === 1) {
      signalRunningScript(interruptFlag);
    }
    send("control", makeMessage("interrupt_reply", { status: "ok" }, parent, init.session), identities);
  } finally {
    send("iopub", makeMessage("status", { execution_state: "idle" }, parent, init.session), []);
  }
}

async function serve(channel: InChannel, sock: zmq.Router): Promise<void> {
  // No peer behaviour ends this loop: bad frames are logged and dropped, and only close() stops it.
  for (;;) {
    let frames: Buffer[];
    try {
      frames = await sock.receive();
    } catch (e) {
      if (closing || sock.closed) return;
      log(`${channel}: receive failed: ${String(e)}`);
      continue;
    }
    try {
      const { identities, msg } = decode(frames, signer);
      if (channel === "control" && msg.header.msg_type === "interrupt_request") {
        handleInterrupt(msg, identities);
        continue;
      }
      post({ kind: "request", channel, identities, msg });
    } catch (e) {
      const why = e instanceof WireError ? `${e.kind}: ${e.message}` : String(e);
      log(`${channel}: dropped a message (${why})`);
    }
  }
}

async function heartbeat(): Promise<void> {
  for (;;) {
    try {
      const frames = await hb.receive();
      await hb.send(frames);
    } catch (e) {
      if (closing || hb.closed) return;
      log(`heartbeat: ${String(e)}`);
    }
  }
}

async function close(): Promise<void> {
  closing = true;
  await Promise.race([
    Promise.all(Object.values(queues).map((q) => q.drain())),
    new Promise((r) => setTimeout(r, 1000)),
  ]);
  for (const s of [shell, control, stdin, iopub, hb]) s.close();
  post({ kind: "closed" });
}

port.on("message", (m: ToWorker) => {
  if (m.kind === "send") send(m.channel, m.msg, m.identities.map((b) => Buffer.from(b)));
  else if (m.kind === "close") void close();
});

async function main(): Promise<void> {
  const c = init.connection;
  await Promise.all([
    shell.bind(endpoint(c, "shell")),
    control.bind(endpoint(c, "control")),
    stdin.bind(endpoint(c, "stdin")),
    iopub.bind(endpoint(c, "iopub")),
    hb.bind(endpoint(c, "hb")),
  ]);
  void serve("shell", shell);
  void serve("control", control);
  void serve("stdin", stdin);
  void heartbeat();
  post({ kind: "ready" });
}

main().catch((e) => {
  log(`cannot bind: ${String(e)}`);
  post({ kind: "closed" });
});
