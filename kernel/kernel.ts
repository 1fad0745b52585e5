/**
 * The kernel: Jupyter requests in, session work out. It sits between the protocol (messages,
 * sockets) and the session (cells, completion, comms) and owns the request discipline: shell
 * requests one at a time in arrival order, control requests at once, busy/idle around every
 * request (try/finally), and stop_on_error aborting the execute requests already queued.
 */
import { randomUUID } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { inspect as utilInspect } from "util";
import { mimeBundleOf } from "../src/display/display";
import { registerWidgetTargets, setWidgetHost, type WidgetHost } from "../src/widgets/protocol";
import type { ConnectionInfo } from "./protocol/connection";
import type { InChannel } from "./protocol/bridge";
import { makeMessage, PROTOCOL_VERSION, replyType, type Contents, type Header, type Message, type MsgType } from "./protocol/messages";
import { Transport } from "./protocol/transport";
import { RequestOutlet, type OutletHost } from "./outlet";
import { CommManager } from "./session/comms";
import { currentCell, runInCell, type CellContext } from "./session/context";
import { Executor } from "./session/executor";
import { installGlobals } from "./session/globals";
import { History } from "./session/history";
import { installDisplaySinks, realStderrWrite, routeProcessOutput } from "./session/host";
import { clearInterruptFlag, installInterruptFlag, newInterruptBuffer, interruptPending, installInterruptGlobals, KeyboardInterrupt } from "./session/interrupt";
import { complete, inspect, isComplete } from "./session/language";
import { packageRoot } from "./session/paths";
import { formatError } from "./session/traceback";
import { tsVersion } from "./session/tsenv";

interface Request {
  channel: InChannel;
  msg: Message;
  identities: Uint8Array[];
}

/** Kernel diagnostics go to the real stderr (the server's log), never into a cell. */
export function log(text: string): void {
  realStderrWrite(`[nemotron-lab kernel] ${text}\n`);
}

function packageVersion(): string {
  try {
    return (JSON.parse(fs.readFileSync(path.join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "0.0.0";
  }
}

export class Kernel implements OutletHost {
  readonly session = randomUUID();
  private readonly interruptFlag = newInterruptBuffer();
  private readonly transport: Transport;
  private executor!: Executor;
  private readonly history = new History();
  private readonly comms: CommManager;
  private executionCount = 0;
  private readonly queue: Request[] = [];
  private draining = false;
  private running?: CellContext;
  /** The request being handled: comm messages opened by kernel code are parented to it. */
  private currentParent: Partial<Header> = {};
  private pendingInput?: { resolve: (v: string) => void; reject: (e: Error) => void };
  private stopping = false;

  constructor(connection: ConnectionInfo) {
    this.transport = new Transport(connection, this.session, this.interruptFlag);
    this.comms = new CommManager((msgType, content, metadata, buffers) => {
      const cell = currentCell();
      const parent = cell ? (cell.outlet as RequestOutlet).parent : this.currentParent;
      // Streams a cell wrote before this comm message go first (an Output widget's capture ends with one).
      cell?.outlet.flush();
      this.transport.send("iopub", makeMessage(msgType, content as never, parent, this.session, metadata, buffers));
    });
  }

  async start(): Promise<void> {
    this.transport.on("log", (t: string) => log(t));
    // Ignored when the flag is already down: the interrupt was handled (or SIGINT broke the cell).
    this.transport.on("interrupt", () => { if (interruptPending()) this.interrupt(); });
    this.transport.on("request", (channel: InChannel, msg: Message, ids: Uint8Array[]) => this.onRequest({ channel, msg, identities: ids }));
    this.installProcessHooks();
    this.executor = new Executor(process.cwd());
    installInterruptGlobals();
    installInterruptFlag(this.interruptFlag, () => this.interrupt());
    installGlobals(this.comms);
    this.installWidgetHost();
    installDisplaySinks();
    await this.transport.start();
    this.publish("status", { execution_state: "starting" }, {});
    this.publish("status", { execution_state: "idle" }, {});
    log(`started (session ${this.session}, TypeScript ${tsVersion})`);
  }

  // ---- plumbing -------------------------------------------------------------------------------

  publish<T extends MsgType>(msgType: T, content: Contents[T], parent: Partial<Header>): void {
    this.transport.send("iopub", makeMessage(msgType, content, parent, this.session));
  }

  private reply<T extends MsgType>(req: Request, msgType: T, content: Contents[T]): void {
    this.transport.send(req.channel, makeMessage(msgType, content, req.msg.header, this.session), req.identities);
  }

  requestInput(prompt: string, password: boolean, parent: Partial<Header>, identities: Uint8Array[]): Promise<string> {
    if (this.pendingInput) return Promise.reject(new Error("another input() is already waiting"));
    return new Promise<string>((resolve, reject) => {
      this.pendingInput = { resolve, reject };
      this.transport.send("stdin", makeMessage("input_request", { prompt, password }, parent, this.session), identities);
    }).finally(() => { this.pendingInput = undefined; });
  }

  private installProcessHooks(): void {
    // Output of cell code (console.*, process.stdout.write) goes to the cell that wrote it.
    routeProcessOutput(log);
    process.on("SIGINT", () => this.interrupt());
  }

  /** The widget protocol (src/widgets) on our comms; its targets answer before any cell loads widgets. */
  private installWidgetHost(): void {
    const host: WidgetHost = {
      open: (target, data, metadata, buffers) => this.comms.open(target, data, metadata, buffers),
      registerTarget: (target, handler) => this.comms.registerTarget(target, handler),
      parentMsgId: () => {
        const cell = currentCell();
        return cell ? (cell.outlet as RequestOutlet).parent.msg_id : this.currentParent.msg_id;
      },
    };
    setWidgetHost(host);
    registerWidgetTargets(host);
  }

  /** SIGINT (signal mode, or raised by the socket thread for interrupt_request). */
  interrupt(): void {
    clearInterruptFlag();
    if (this.running && !this.running.controller.signal.aborted) {
      this.running.controller.abort(new KeyboardInterrupt());
    }
    this.pendingInput?.reject(new KeyboardInterrupt());
  }

  // ---- dispatch -------------------------------------------------------------------------------

  private onRequest(req: Request): void {
    const type = req.msg.header.msg_type;
    if (req.channel === "stdin") {
      if (type === "input_reply" && this.pendingInput) {
        const c = req.msg.content as Contents["input_reply"];
        this.pendingInput.resolve(typeof c.value === "string" ? c.value : "");
      } else log(`stdin: ignored ${type}`);
      return;
    }
    if (req.channel === "control") {
      // Control requests are not queued: they must answer while a cell runs.
      void this.handle(req);
      return;
    }
    this.queue.push(req);
    void this.drain();
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length) await this.handle(this.queue.shift()!);
    } finally {
      this.draining = false;
    }
  }

  private async handle(req: Request): Promise<void> {
    const parent = req.msg.header;
    this.publish("status", { execution_state: "busy" }, parent);
    try {
      this.currentParent = parent;
      await this.dispatch(req);
    } catch (e) {
      log(`${parent.msg_type} failed: ${utilInspect(e)}`);
    } finally {
      this.publish("status", { execution_state: "idle" }, parent);
    }
  }

  private async dispatch(req: Request): Promise<void> {
    const msg = req.msg;
    const c = msg.content as Record<string, unknown>;
    switch (msg.header.msg_type) {
      case "kernel_info_request":
        return this.reply(req, "kernel_info_reply", this.kernelInfo());
      case "execute_request":
        return this.execute(req);
      case "complete_request": {
        const code = String(c.code ?? "");
        const r = complete(this.executor.converter, code, Number(c.cursor_pos ?? [...code].length));
        return this.reply(req, "complete_reply", { status: "ok", matches: r.matches, cursor_start: r.cursorStart, cursor_end: r.cursorEnd, metadata: {} });
      }
      case "inspect_request": {
        const code = String(c.code ?? "");
        const r = inspect(this.executor.converter, code, Number(c.cursor_pos ?? [...code].length));
        return this.reply(req, "inspect_reply", { status: "ok", found: r.found, data: r.data, metadata: {} });
      }
      case "is_complete_request":
        return this.reply(req, "is_complete_reply", isComplete(String(c.code ?? "")));
      case "history_request":
        return this.reply(req, "history_reply", { status: "ok", history: this.historyFor(msg.content as Contents["history_request"]) });
      case "comm_info_request":
        return this.reply(req, "comm_info_reply", { status: "ok", comms: this.comms.info(c.target_name as string | undefined) });
      case "comm_open":
        return this.inCommContext(req, () => this.comms.handleOpen(msg.content as Contents["comm_open"], msg.buffers, msg.metadata));
      case "comm_msg":
        return this.inCommContext(req, () => this.comms.handleMsg(msg.content as Contents["comm_msg"], msg.buffers));
      case "comm_close":
        return this.inCommContext(req, () => this.comms.handleClose(msg.content as Contents["comm_close"]));
      case "connect_request":
        return log("connect_request is deprecated; not answered");
      case "shutdown_request":
        return this.shutdown(req, !!c.restart);
      default: {
        log(`unknown message type ${JSON.stringify(msg.header.msg_type)} on ${req.channel}`);
        if (msg.header.msg_type.endsWith("_request")) {
          this.transport.send(req.channel, makeMessage(replyType(msg.header.msg_type) as MsgType, {
            status: "error", ename: "UnknownMessageType", evalue: `unknown message type ${msg.header.msg_type}`, traceback: [],
          } as never, msg.header, this.session), req.identities);
        }
      }
    }
  }

  /** Comm handlers run user code: give them a cell context so their output has a home. */
  private inCommContext(req: Request, fn: () => void): void {
    const outlet = new RequestOutlet(this, req.msg.header, req.identities, { silent: false, allowStdin: false });
    const ctx: CellContext = { count: 0, controller: new AbortController(), outlet };
    try {
      runInCell(ctx, fn);
    } catch (e) {
      outlet.stream("stderr", `${formatError(e, () => undefined).traceback.join("\n")}\n`);
    } finally {
      outlet.flush();
    }
  }

  kernelInfo(): Contents["kernel_info_reply"] {
    return {
      status: "ok",
      protocol_version: PROTOCOL_VERSION,
      implementation: "nemotron-lab",
      implementation_version: packageVersion(),
      language_info: {
        name: "typescript",
        version: tsVersion,
        mimetype: "text/typescript",
        file_extension: ".ts",
        pygments_lexer: "typescript",
        codemirror_mode: { name: "javascript", typescript: true },
        nbconvert_exporter: "script",
      },
      banner: `nemotron-lab kernel ${packageVersion()} - TypeScript ${tsVersion} on Node.js ${process.version}`,
      help_links: [
        { text: "TypeScript handbook", url: "https://www.typescriptlang.org/docs/handbook/intro.html" },
        { text: "Node.js API", url: `https://nodejs.org/docs/${process.version}/api/` },
        { text: "Nemotron-Nano-9B-v2", url: "https://huggingface.co/nvidia/NVIDIA-Nemotron-Nano-9B-v2" },
      ],
      debugger: false,
    };
  }

  private historyFor(c: Contents["history_request"]): Contents["history_reply"]["history"] {
    const output = !!c.output;
    switch (c.hist_access_type) {
      case "tail": return this.history.tail(c.n ?? 10, output);
      case "range": return this.history.range(c.session ?? 0, c.start ?? 0, c.stop, output);
      case "search": return this.history.search(c.pattern ?? "*", c.n, !!c.unique, output);
      default: return [];
    }
  }

  private async execute(req: Request): Promise<void> {
    const c = req.msg.content as Contents["execute_request"];
    const code = typeof c.code === "string" ? c.code : "";
    const silent = !!c.silent;
    const storeHistory = silent ? false : c.store_history !== false;
    if (storeHistory) this.executionCount++;
    const count = this.executionCount;
    const outlet = new RequestOutlet(this, req.msg.header, req.identities, { silent, allowStdin: !!c.allow_stdin });
    if (!silent) this.publish("execute_input", { code, execution_count: count }, req.msg.header);
    if (storeHistory) this.history.add(count, code);
    const ctx: CellContext = { count: storeHistory ? count : 0, controller: new AbortController(), outlet };
    this.running = ctx;
    let outcome;
    try {
      outcome = await this.executor.run(code, ctx);
    } finally {
      this.running = undefined;
    }
    outlet.flush();
    if (outcome.status === "error") {
      outlet.error(outcome.ename, outcome.evalue, outcome.traceback);
      // Requests that arrived before this reply are aborted; ones sent after seeing it are not.
      const aborted = c.stop_on_error !== false ? await this.takeQueuedExecutes() : [];
      this.reply(req, "execute_reply", { status: "error", execution_count: count, ename: outcome.ename, evalue: outcome.evalue, traceback: outcome.traceback });
      for (const a of aborted) {
        this.publish("status", { execution_state: "busy" }, a.msg.header);
        this.reply(a, "execute_reply", { status: "aborted", execution_count: this.executionCount });
        this.publish("status", { execution_state: "idle" }, a.msg.header);
      }
      return;
    }
    if (outcome.hasValue) {
      const bundle = mimeBundleOf(outcome.value);
      outlet.executeResult(count, bundle);
      if (storeHistory && typeof bundle["text/plain"] === "string") this.history.setOutput(count, bundle["text/plain"]);
    }
    const userExpressions = await this.userExpressions(c.user_expressions ?? {}, req);
    this.reply(req, "execute_reply", { status: "ok", execution_count: count, payload: [], user_expressions: userExpressions });
  }

  private async userExpressions(exprs: Record<string, string>, req: Request): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const [name, expr] of Object.entries(exprs)) {
      const outlet = new RequestOutlet(this, req.msg.header, req.identities, { silent: true, allowStdin: false });
      const r = await this.executor.run(String(expr), { count: 0, controller: new AbortController(), outlet });
      out[name] = r.status === "ok"
        ? { status: "ok", data: r.hasValue ? mimeBundleOf(r.value) : { "text/plain": "undefined" }, metadata: {} }
        : { status: "error", ename: r.ename, evalue: r.evalue, traceback: r.traceback };
    }
    return out;
  }

  /** After an error: the execute requests already waiting, removed from the queue. */
  private async takeQueuedExecutes(): Promise<Request[]> {
    // Let requests the socket thread already delivered reach the queue first.
    await new Promise((r) => setImmediate(r));
    const taken: Request[] = [];
    const keep: Request[] = [];
    for (const req of this.queue.splice(0)) (req.msg.header.msg_type === "execute_request" ? taken : keep).push(req);
    this.queue.push(...keep);
    return taken;
  }

  private async shutdown(req: Request, restart: boolean): Promise<void> {
    this.reply(req, "shutdown_reply", { status: "ok", restart });
    this.publish("shutdown_reply", { status: "ok", restart }, req.msg.header);
    if (this.stopping) return;
    this.stopping = true;
    // Exit after idle is published (handle()'s finally runs before this timer fires).
    setTimeout(() => void this.stop(0), 10);
  }

  async stop(code: number): Promise<never> {
    try {
      await this.transport.close();
    } finally {
      process.exit(code);
    }
  }
}
