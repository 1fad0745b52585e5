/** nemotron-lab kernel: install the Jupyter kernelspec, or run the kernel (what Jupyter starts). */
import type { Command } from "./command";
import { HelpRequested } from "./args";

export const command: Command = {
  name: "kernel",
  summary: "install the Jupyter kernelspec, or run the kernel (what Jupyter starts)",
  usage: `nemotron-lab kernel install [--user | --sys-prefix | --prefix DIR] [--name NAME]
nemotron-lab kernel --connection-file FILE

install writes the kernelspec 'nemotron-lab' (TypeScript) for this package: --user (default)
in your Jupyter data folder, --sys-prefix in the active Python environment's, --prefix under DIR.`,
  example: `nemotron-lab kernel install --user`,
  run(argv) {
    if (argv.includes("--help") || argv.includes("-h")) throw new HelpRequested();
    // The kernel (tslab, zeromq) loads only when this command runs.
    return (require("../kernel/main") as typeof import("../kernel/main")).kernelCommand(argv);
  },
};
