/**
 * A request's outlet: everything a cell prints or displays becomes an iopub message whose parent
 * is that request, so output lands in the cell that produced it. Stream writes are coalesced
 * (one message per burst, not per console.log) and flushed before any other message, so order
 * is kept.
 */
import type { Outlet } from "./session/context";
import type { Contents, Header, MimeBundle, MsgType } from "./protocol/messages";

export interface OutletHost {
  publish<T extends MsgType>(msgType: T, content: Contents[T], parent: Partial<Header>): void;
  requestInput(prompt: string, password: boolean, parent: Partial<Header>, identities: Uint8Array[]): Promise<string>;
}

const FLUSH_BYTES = 64 * 1024;

export class RequestOutlet implements Outlet {
  private pending: Array<{ name: "stdout" | "stderr"; text: string }> = [];
  private pendingBytes = 0;
  private scheduled = false;

  constructor(
    private readonly host: OutletHost,
    readonly parent: Partial<Header>,
    private readonly identities: Uint8Array[],
    private readonly opts: { silent: boolean; allowStdin: boolean },
  ) {}

  stream(name: "stdout" | "stderr", text: string): void {
    if (this.opts.silent || text === "") return;
    const last = this.pending[this.pending.length - 1];
    if (last && last.name === name) last.text += text;
    else this.pending.push({ name, text });
    this.pendingBytes += text.length;
    // A synchronous loop never yields to setImmediate, so large bursts flush on size.
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  flush(): void {
    this.scheduled = false;
    const pending = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    for (const p of pending) this.host.publish("stream", { name: p.name, text: p.text }, this.parent);
  }

  private publish<T extends MsgType>(msgType: T, content: Contents[T]): void {
    if (this.opts.silent) return;
    this.flush();
    this.host.publish(msgType, content, this.parent);
  }

  displayData(data: MimeBundle, metadata: Record<string, unknown>, displayId?: string): void {
    this.publish("display_data", { data, metadata, transient: displayId ? { display_id: displayId } : {} });
  }

  updateDisplayData(data: MimeBundle, metadata: Record<string, unknown>, displayId: string): void {
    this.publish("update_display_data", { data, metadata, transient: { display_id: displayId } });
  }

  clearOutput(wait: boolean): void {
    this.publish("clear_output", { wait });
  }

  executeResult(count: number, data: MimeBundle): void {
    this.publish("execute_result", { execution_count: count, data, metadata: {} });
  }

  error(ename: string, evalue: string, traceback: string[]): void {
    this.publish("error", { ename, evalue, traceback });
  }

  requestInput(prompt: string, password: boolean): Promise<string> {
    if (!this.opts.allowStdin) {
      return Promise.reject(Object.assign(new Error("input() needs a frontend that allows stdin (allow_stdin is false)"), { name: "StdinNotImplementedError" }));
    }
    this.flush();
    return this.host.requestInput(prompt, password, this.parent, this.identities);
  }
}
