/**
 * Progress of long work. Library code calls progress(label, total) and updates it; where
 * it shows is decided by the sink: a bar on stderr in a terminal (the default when stderr
 * is a TTY), an updating display in a notebook (the kernel installs that sink).
 */
export interface ProgressHandle {
  update(done: number, note?: string): void;
  finish(): void;
}

export interface ProgressSink {
  start(label: string, total: number): ProgressHandle;
}

let sink: ProgressSink | undefined;

export function setProgressSink(s: ProgressSink | undefined): void {
  sink = s;
}

export function progress(label: string, total: number): ProgressHandle {
  if (sink) return sink.start(label, total);
  if (process.stderr.isTTY && !process.env.NEMOTRON_LAB_NO_PROGRESS) return terminalBar(label, total);
  return { update() {}, finish() {} };
}

function terminalBar(label: string, total: number): ProgressHandle {
  let last = 0;
  const draw = (done: number, note = "") => {
    const frac = total > 0 ? Math.min(1, done / total) : 1;
    const width = 30;
    const filled = Math.round(frac * width);
    process.stderr.write(`\r${label} [${"#".repeat(filled)}${" ".repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${note}\x1b[K`);
  };
  return {
    update(done, note) {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      draw(done, note);
    },
    finish() {
      draw(total);
      process.stderr.write("\n");
    },
  };
}
