/**
 * The cell a piece of code belongs to. Each execution runs inside an AsyncLocalStorage context, so
 * console output, displays and interrupt checks from timers and promises that a cell started are
 * routed to that cell even after it returned.
 */
import { AsyncLocalStorage } from "async_hooks";
import type { MimeBundle } from "../protocol/messages";

/** Where a cell's side effects go; the kernel implements it on top of the protocol. */
export interface Outlet {
  stream(name: "stdout" | "stderr", text: string): void;
  displayData(data: MimeBundle, metadata: Record<string, unknown>, displayId?: string): void;
  updateDisplayData(data: MimeBundle, metadata: Record<string, unknown>, displayId: string): void;
  clearOutput(wait: boolean): void;
  /** Resolves with the user's answer; rejects when the frontend does not accept input. */
  requestInput(prompt: string, password: boolean): Promise<string>;
  /** Sends anything still buffered (streams) before the reply goes out. */
  flush(): void;
}

export interface CellContext {
  /** The execution count of the cell, or 0 for silent executions. */
  count: number;
  controller: AbortController;
  outlet: Outlet;
}

export const cellStorage = new AsyncLocalStorage<CellContext>();

let lastCell: CellContext | undefined;

/** The cell whose code is running now; otherwise the most recent one (like ipykernel's parent). */
export function currentCell(): CellContext | undefined {
  return cellStorage.getStore() ?? lastCell;
}

export function runInCell<T>(ctx: CellContext, fn: () => T): T {
  lastCell = ctx;
  return cellStorage.run(ctx, fn);
}
