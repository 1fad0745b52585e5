/**
 * A cell's outputs as nbformat records, collected the way a Jupyter client (nbclient) would from
 * the kernel's messages: consecutive stream writes merge, clear_output(wait) clears at the next
 * output, and update_display_data rewrites every output carrying that display id, in any cell.
 */
import type { Outlet } from "../../kernel/session/context";
import type { MimeBundle, Output } from "./nbformat";

type DataOutput = Extract<Output, { data: MimeBundle }>;

/** Outputs by display id, shared by all cells of one notebook run. */
export class DisplayIndex {
  private readonly byId = new Map<string, Set<DataOutput>>();

  add(id: string, out: DataOutput): void {
    let set = this.byId.get(id);
    if (!set) this.byId.set(id, (set = new Set()));
    set.add(out);
  }

  update(id: string, data: MimeBundle, metadata: Record<string, unknown>): void {
    for (const out of this.byId.get(id) ?? []) {
      out.data = data;
      out.metadata = metadata;
    }
  }
}

export class CellOutputs implements Outlet {
  readonly outputs: Output[] = [];
  private clearOnNext = false;

  constructor(private readonly displays: DisplayIndex) {}

  private add(out: Output): void {
    if (this.clearOnNext) {
      this.clearOnNext = false;
      this.outputs.length = 0;
    }
    this.outputs.push(out);
  }

  stream(name: "stdout" | "stderr", text: string): void {
    if (text === "") return;
    const last = this.outputs[this.outputs.length - 1];
    if (!this.clearOnNext && last?.output_type === "stream" && last.name === name) last.text = `${last.text as string}${text}`;
    else this.add({ output_type: "stream", name, text });
  }

  displayData(data: MimeBundle, metadata: Record<string, unknown>, displayId?: string): void {
    const out: DataOutput = { output_type: "display_data", data, metadata };
    this.add(out);
    if (displayId) this.displays.add(displayId, out);
  }

  updateDisplayData(data: MimeBundle, metadata: Record<string, unknown>, displayId: string): void {
    this.displays.update(displayId, data, metadata);
  }

  clearOutput(wait: boolean): void {
    if (wait) this.clearOnNext = true;
    else {
      this.clearOnNext = false;
      this.outputs.length = 0;
    }
  }

  executeResult(count: number, data: MimeBundle): void {
    this.add({ output_type: "execute_result", execution_count: count, data, metadata: {} });
  }

  error(ename: string, evalue: string, traceback: string[]): void {
    this.add({ output_type: "error", ename, evalue, traceback });
  }

  requestInput(): Promise<string> {
    return Promise.reject(Object.assign(new Error("input() has no one to answer in a headless run (nemotron-lab run)"), { name: "StdinNotImplementedError" }));
  }

  flush(): void {
    // Nothing is buffered: outputs are records in memory.
  }
}
