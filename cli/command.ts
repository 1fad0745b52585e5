/**
 * What a subcommand is: its name, a one-line summary, its usage (the synopsis and what the
 * flags mean) and an example, kept in the command's own module beside its code, and the
 * function that runs it. main.ts lists the commands; `nemotron-lab CMD --help` prints helpText.
 */
export interface Command {
  name: string;
  summary: string;
  /** The synopsis line(s) and, optionally, what the flags mean. */
  usage: string;
  /** One or more complete command lines that work on the bundled tiny model. */
  example: string;
  /** Resolves with an exit status, or nothing for 0. */
  run(argv: string[]): Promise<void | number> | void | number;
}

export function helpText(c: Command): string {
  return `nemotron-lab ${c.name} — ${c.summary}\n\nusage:\n${indent(c.usage)}\n\nexample:\n${indent(c.example)}`;
}

function indent(text: string): string {
  return text.split("\n").map((l) => (l ? `  ${l}` : l)).join("\n");
}
