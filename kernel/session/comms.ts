/**
 * Comms (ipywidgets-style channels between kernel objects and frontend objects), both ways:
 * the frontend opens a comm to a target registered here, or kernel code opens one to a frontend
 * target. The kernel supplies `publish` (to iopub); this file keeps the open comms and handlers.
 * Binary buffers travel both ways (the Jupyter widget protocol, src/widgets, rides on this).
 */
import { randomUUID } from "crypto";

type Data = Record<string, unknown>;
export type CommPublish = (
  msgType: "comm_open" | "comm_msg" | "comm_close",
  content: Data,
  metadata: Data,
  buffers: Uint8Array[],
) => void;

export class Comm {
  private msgHandlers: Array<(data: Data, buffers: Uint8Array[]) => void> = [];
  private closeHandlers: Array<(data: Data) => void> = [];
  closed = false;

  constructor(readonly commId: string, readonly targetName: string, private readonly manager: CommManager) {}

  send(data: Data, metadata: Data = {}, buffers: Uint8Array[] = []): void {
    if (this.closed) throw new Error(`comm ${this.commId} is closed`);
    this.manager.publish("comm_msg", { comm_id: this.commId, data }, metadata, buffers);
  }

  close(data: Data = {}): void {
    if (this.closed) return;
    this.manager.publish("comm_close", { comm_id: this.commId, data }, {}, []);
    this.manager.forget(this, data);
  }

  onMsg(handler: (data: Data, buffers: Uint8Array[]) => void): void {
    this.msgHandlers.push(handler);
  }

  onClose(handler: (data: Data) => void): void {
    this.closeHandlers.push(handler);
  }

  /** @internal */ deliver(data: Data, buffers: Uint8Array[]): void {
    for (const h of this.msgHandlers) h(data, buffers);
  }

  /** @internal */ closedBy(data: Data): void {
    this.closed = true;
    for (const h of this.closeHandlers) h(data);
  }
}

/** Called on a frontend's comm_open; metadata carries e.g. the widget protocol version. */
export type CommTarget = (comm: Comm, data: Data, buffers: Uint8Array[], metadata: Data) => void;

export class CommManager {
  private readonly comms = new Map<string, Comm>();
  private readonly targets = new Map<string, CommTarget>();

  constructor(readonly publish: CommPublish) {}

  registerTarget(targetName: string, handler: CommTarget): void {
    this.targets.set(targetName, handler);
  }

  /** Kernel-side open: announces the comm to the frontend. */
  open(targetName: string, data: Data = {}, metadata: Data = {}, buffers: Uint8Array[] = []): Comm {
    const comm = new Comm(randomUUID().replace(/-/g, ""), targetName, this);
    this.comms.set(comm.commId, comm);
    this.publish("comm_open", { comm_id: comm.commId, target_name: targetName, data }, metadata, buffers);
    return comm;
  }

  /** Frontend-side open. Unknown targets get a comm_close back, as ipykernel does. */
  handleOpen(content: { comm_id: string; target_name: string; data?: Data }, buffers: Uint8Array[], metadata: Data = {}): void {
    const target = this.targets.get(content.target_name);
    if (!target) {
      this.publish("comm_close", { comm_id: content.comm_id, data: {} }, {}, []);
      throw new Error(`no comm target named ${JSON.stringify(content.target_name)}`);
    }
    const comm = new Comm(content.comm_id, content.target_name, this);
    this.comms.set(comm.commId, comm);
    target(comm, content.data ?? {}, buffers, metadata);
  }

  handleMsg(content: { comm_id: string; data?: Data }, buffers: Uint8Array[]): void {
    const comm = this.comms.get(content.comm_id);
    if (!comm) throw new Error(`no comm with id ${content.comm_id}`);
    comm.deliver(content.data ?? {}, buffers);
  }

  handleClose(content: { comm_id: string; data?: Data }): void {
    const comm = this.comms.get(content.comm_id);
    if (!comm) return;
    this.forget(comm, content.data ?? {});
  }

  /** @internal */ forget(comm: Comm, data: Data): void {
    this.comms.delete(comm.commId);
    comm.closedBy(data);
  }

  info(targetName?: string): Record<string, { target_name: string }> {
    const out: Record<string, { target_name: string }> = {};
    for (const c of this.comms.values()) {
      if (!targetName || c.targetName === targetName) out[c.commId] = { target_name: c.targetName };
    }
    return out;
  }
}
