#!/usr/bin/env node
/**
 * Entry point of the kernel: `kernelCommand(argv)` runs `kernel --connection-file F` (what the
 * kernelspec starts) or `kernel install ...`. cli/main.ts dispatches its `kernel` subcommand
 * here; `node dist/kernel/main.js ...` works too.
 */
import { installKernelspec, parseInstallArgs } from "./install";
import { Kernel, log } from "./kernel";
import { readConnectionFile } from "./protocol/connection";

const USAGE = `usage:
  nemotron-lab kernel --connection-file FILE
  nemotron-lab kernel install [--user | --sys-prefix | --prefix DIR] [--name NAME]`;

/** Runs the kernel subcommand; resolves with an exit status (the kernel itself exits on shutdown). */
export async function kernelCommand(argv: string[]): Promise<number> {
  if (argv[0] === "install") {
    try {
      const dir = installKernelspec(parseInstallArgs(argv.slice(1)));
      process.stdout.write(`Installed kernelspec nemotron-lab in ${dir}\n`);
      return 0;
    } catch (e) {
      process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
      return 2;
    }
  }
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--connection-file" || a === "-f") file = argv[++i];
    else if (a.startsWith("--connection-file=")) file = a.slice("--connection-file=".length);
    else if (a === "--help" || a === "-h") {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
  }
  if (!file) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const kernel = new Kernel(readConnectionFile(file));
  process.on("SIGTERM", () => void kernel.stop(0));
  await kernel.start();
  return new Promise<number>(() => undefined); // runs until shutdown_request or a signal
}

if (require.main === module) {
  kernelCommand(process.argv.slice(2)).then(
    (code) => { if (code !== 0 || process.argv[2] === "install") process.exit(code); },
    (e) => { log(`fatal: ${String((e as Error)?.stack ?? e)}`); process.exit(1); },
  );
}
