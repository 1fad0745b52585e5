/**
 * The undo journal: how library work that changes a model temporarily (a sensitivity sweep's
 * weight swaps, calibration observers, quantizeModel's swap loop, a comparison's quantized
 * phase) leaves the model as it was even when it is stopped at any point.
 *
 * Why a journal and not only `finally`: a synchronous notebook cell is stopped by the VM's
 * SIGINT break (vm breakOnSigint, kernel/session/executor.ts), which terminates the script
 * without running its finally blocks. So each temporary change is written here, with the
 * function that undoes it, BEFORE it is made; normal completion removes the entry (commit) or
 * runs it (rollback), and whatever an aborted script left behind is run by the kernel after the
 * cell ends (rollbackPending). Undo functions must be idempotent (restoring a weight twice is
 * fine): the break can land between an undo and the removal of its entry.
 *
 * The journal lives on globalThis under a registered symbol, so the kernel and the library
 * share it even when they are loaded from different copies of this package.
 */

interface Entry { label: string; undo: () => void }

const KEY = Symbol.for("nemotron-lab.undoJournal");

function journal(): Entry[] {
  const g = globalThis as Record<symbol, unknown>;
  return (g[KEY] ??= []) as Entry[];
}

export interface PendingUndo {
  /** Keep the change: drop the entry without running it. */
  commit(): void;
  /** Undo now (idempotent), then drop the entry. */
  rollback(): void;
}

/** Journals `undo` before a temporary change is made; the caller commits or rolls back. */
export function beginUndo(label: string, undo: () => void): PendingUndo {
  const entry: Entry = { label, undo };
  journal().push(entry);
  const drop = () => {
    const j = journal(), i = j.lastIndexOf(entry);
    if (i >= 0) j.splice(i, 1);
  };
  return {
    commit: drop,
    rollback: () => {
      try { undo(); } finally { drop(); }
    },
  };
}

/** Runs `work` with `undo` journaled; the undo always runs when work ends, or when the kernel rolls back. */
export function temporarily<T>(label: string, undo: () => void, work: () => T): T {
  const pending = beginUndo(label, undo);
  try {
    return work();
  } finally {
    pending.rollback();
  }
}

/** Labels of the entries still journaled (work in progress, or left by an aborted script). */
export function pendingUndos(): string[] {
  return journal().map((e) => e.label);
}

/**
 * Runs every journaled undo, newest first, and empties the journal; returns their labels.
 * The kernel calls this after a cell that ended in an error or an interrupt. An undo that
 * throws does not stop the others; the first error is rethrown after all ran.
 */
export function rollbackPending(): string[] {
  const j = journal();
  const done: string[] = [];
  let first: unknown;
  while (j.length) {
    const e = j.pop()!;
    try { e.undo(); } catch (err) { first ??= err; }
    done.push(e.label);
  }
  if (first !== undefined) throw first;
  return done;
}
