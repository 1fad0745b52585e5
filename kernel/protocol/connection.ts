/**
 * The connection file a Jupyter client writes for a kernel: where to bind the five sockets and how
 * to sign messages. Validated once here, so the rest of the protocol layer can trust it.
 */
import * as fs from "fs";

export interface ConnectionInfo {
  transport: "tcp" | "ipc";
  ip: string;
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  /** HMAC key; the empty string means messages are not signed (the spec allows it). */
  key: string;
  signature_scheme: string;
  kernel_name?: string;
}

export type ChannelName = "shell" | "control" | "iopub" | "stdin" | "hb";

export function readConnectionFile(file: string): ConnectionInfo {
  const raw = JSON.parse(fs.readFileSync(file, "utf8")) as Partial<ConnectionInfo>;
  const transport = raw.transport ?? "tcp";
  if (transport !== "tcp" && transport !== "ipc") throw new Error(`connection file: unsupported transport ${transport}`);
  const scheme = raw.signature_scheme ?? "hmac-sha256";
  if (scheme !== "hmac-sha256") throw new Error(`connection file: unsupported signature_scheme ${scheme}`);
  const ports = ["shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"] as const;
  for (const p of ports) {
    if (typeof raw[p] !== "number") throw new Error(`connection file: ${p} is missing`);
  }
  return {
    transport,
    ip: raw.ip ?? "127.0.0.1",
    shell_port: raw.shell_port!,
    iopub_port: raw.iopub_port!,
    stdin_port: raw.stdin_port!,
    control_port: raw.control_port!,
    hb_port: raw.hb_port!,
    key: raw.key ?? "",
    signature_scheme: scheme,
    kernel_name: raw.kernel_name,
  };
}

/** The endpoint a channel binds to: tcp://ip:port, or for ipc the ip is a path prefix (ip-port). */
export function endpoint(info: ConnectionInfo, channel: ChannelName): string {
  const port = info[`${channel === "hb" ? "hb" : channel}_port` as keyof ConnectionInfo] as number;
  return info.transport === "tcp" ? `tcp://${info.ip}:${port}` : `ipc://${info.ip}-${port}`;
}
