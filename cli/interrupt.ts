/** Ctrl-C in a CLI command: the first one aborts the work cleanly, a second one exits. */
let controller: AbortController | undefined;

export function interruptSignal(): AbortSignal {
  if (!controller) {
    controller = new AbortController();
    process.once("SIGINT", () => {
      controller!.abort();
      process.once("SIGINT", () => process.exit(130));
    });
  }
  return controller.signal;
}
