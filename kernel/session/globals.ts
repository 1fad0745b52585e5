/**
 * Names every cell can use without an import: display helpers, input(), the cell's AbortSignal
 * and comms. `installGlobals` puts the values on globalThis; GLOBALS_DECLARATION tells the
 * type checker about them (it is added to the converter as an in-memory module).
 */
import { clearOutput, display, ProgressDisplay } from "../../src/display/display";
import type { CommManager } from "./comms";
import { currentCell } from "./context";
import { currentCellSignal, KeyboardInterrupt } from "./interrupt";

export const GLOBALS_DECLARATION = `
declare global {
  type MimeBundle = Record<string, unknown>;
  interface DisplayOptions { displayId?: string | true; update?: boolean; raw?: boolean; metadata?: Record<string, unknown> }
  interface DisplayHandle { readonly displayId: string; update(value: unknown, options?: { raw?: boolean; metadata?: Record<string, unknown> }): void }
  /**
   * Shows a value (rendered through Symbol.for("Jupyter.display") when it has it) or a raw mime
   * bundle. With displayId (a string, or true for a fresh one) returns a handle to update it in place.
   */
  function display(value: unknown, options: DisplayOptions & { displayId: string | true }): DisplayHandle;
  function display(value: unknown, options?: DisplayOptions): DisplayHandle | undefined;
  /** Clears this cell's output; with wait, when the next output arrives. */
  function clearOutput(options?: { wait?: boolean }): void;
  /** A progress bar that updates in place. */
  class ProgressDisplay {
    constructor(label: string, total: number, minIntervalMs?: number);
    update(done: number, note?: string): void;
    finish(note?: string): void;
  }
  /** Asks the user for a line of text (needs a frontend that allows stdin). */
  function input(prompt?: string, options?: { password?: boolean }): Promise<string>;
  /** Aborts when this cell is interrupted; pass it to long-running work. */
  function currentCellSignal(): AbortSignal | undefined;
  class KeyboardInterrupt extends Error {}
  interface Comm {
    readonly commId: string;
    readonly targetName: string;
    send(data: Record<string, unknown>, metadata?: Record<string, unknown>, buffers?: Uint8Array[]): void;
    close(data?: Record<string, unknown>): void;
    onMsg(handler: (data: Record<string, unknown>, buffers: Uint8Array[]) => void): void;
    onClose(handler: (data: Record<string, unknown>) => void): void;
  }
  const comms: {
    open(targetName: string, data?: Record<string, unknown>, metadata?: Record<string, unknown>, buffers?: Uint8Array[]): Comm;
    registerTarget(targetName: string, handler: (comm: Comm, data: Record<string, unknown>) => void): void;
  };
}
`;

export function installGlobals(commManager: CommManager): void {
  const values: Record<string, unknown> = {
    display,
    clearOutput,
    ProgressDisplay,
    KeyboardInterrupt,
    currentCellSignal,
    input: (prompt = "", options: { password?: boolean } = {}): Promise<string> => {
      const cell = currentCell();
      if (!cell) return Promise.reject(new Error("input() works only inside a cell"));
      return cell.outlet.requestInput(String(prompt), !!options.password);
    },
    comms: {
      open: commManager.open.bind(commManager),
      registerTarget: commManager.registerTarget.bind(commManager),
    },
  };
  for (const [k, v] of Object.entries(values)) {
    Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true, enumerable: false });
  }
}
