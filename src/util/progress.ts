/**
 * Progress reporting for long library work (loading shards, quantizing, generating). Library code
 * calls progress(label, total); whoever hosts the library decides how it looks: a notebook kernel
 * installs a sink that draws a bar updated in place, a terminal gets a bar on stderr, anything else
 * stays silent. The sink is kept on globalThis so every copy of the package shares it.
 */

export interface ProgressHandle {
  update(done: number, note?: string): void;
  finish(): void;
}

export interface ProgressSink {
  start(label: string, total: number): ProgressHandle;
}

const SINK_KEY = Symbol.for("nemotron-lab.progressSink");

export function setProgressSink(s: ProgressSink | undefined): void {
  (globalThis as Record<symbol, unknown>)[SINK_KEY] = s;
}

function currentSink(): ProgressSink | undefined {
  return (globalThis as Record<symbol, unknown>)[SINK_KEY] as ProgressSink | undefined;
}

const silent: ProgressHandle = { update: () => undefined, finish: () => undefined };

/** A bar on stderr, redrawn with \r at most every 100 ms. */
function terminalBar(label: string, total: number): ProgressHandle {
  let last = 0;
  const draw = (done: number, note?: string, final = false) => {
    const now = Date.now();
    if (!final && now - last < 100) return;
    last = now;
    const frac = total > 0 ? Math.min(done / total, 1) : 0;
    const bar = "#".repeat(Math.round(frac * 30)).padEnd(30, "-");
    process.stderr.write(`\r${label} [${bar}] ${done}/${total}${note ? ` ${note}` : ""}${final ? "\n" : ""}`);
  };
  let done = 0;
  return {
    update: (d, note) => { done = d; draw(d, note); },
    finish: () => draw(Math.max(done, total), undefined, true),
  };
}

export function progress(label: string, total: number): ProgressHandle {
  const sink = currentSink();
  if (sink) return sink.start(label, total);
  if (process.stderr.isTTY && !process.env.NEMOTRON_LAB_NO_PROGRESS) return terminalBar(label, total);
  return silent;
}
