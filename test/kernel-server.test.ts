/**
 * A real Jupyter Server on 127.0.0.1 driven by @jupyterlab/services (JupyterLab's own client,
 * over REST and websockets): start the kernel, execute, interrupt a long cell, restart, shut down.
 */
import { spawn, type ChildProcess } from "child_process";
import * as fs from "fs";
import * as net from "net";
import * as path from "path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KernelManager, ServerConnection, type Kernel, type KernelMessage } from "@jupyterlab/services";
import { installSpec, jupyterEnv, PYTHON, pythonHas } from "./kernel/helpers";

const ok = pythonHas(["jupyter_server"], "Jupyter Server + @jupyterlab/services");

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

async function waitFor(url: string, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not come up`);
}

function start(kernel: Kernel.IKernelConnection, code: string) {
  const outputs: KernelMessage.IIOPubMessage[] = [];
  let streamed!: () => void;
  /** Resolves at the cell's first stream output: it is running (no guessing with sleeps). */
  const running = new Promise<void>((r) => { streamed = r; });
  const future = kernel.requestExecute({ code, stop_on_error: true });
  future.onIOPub = (msg) => {
    outputs.push(msg);
    if (msg.header.msg_type === "stream") streamed();
  };
  const done = future.done.then((reply) => ({ reply: (reply as KernelMessage.IExecuteReplyMsg).content, outputs }));
  return { running, done };
}

const run = (kernel: Kernel.IKernelConnection, code: string) => start(kernel, code).done;

describe.skipIf(!ok)("Jupyter Server with @jupyterlab/services", () => {
  let server: ChildProcess | undefined;
  let dir = "";
  let manager: KernelManager;
  let log = "";
  const token = "nemotron-lab-test-token";

  beforeAll(async () => {
    const spec = installSpec();
    dir = spec.dir;
    const port = await freePort();
    const root = path.join(dir, "root");
    fs.mkdirSync(root);
    server = spawn(PYTHON, ["-m", "jupyter_server", "--no-browser", "--ServerApp.ip=127.0.0.1", `--ServerApp.port=${port}`,
      "--ServerApp.port_retries=0", "--allow-root", `--ServerApp.token=${token}`, `--ServerApp.root_dir=${root}`], {
      env: jupyterEnv(spec.jupyterPath, dir), stdio: ["ignore", "pipe", "pipe"],
    });
    server.stdout!.on("data", (d) => { log += d; });
    server.stderr!.on("data", (d) => { log += d; });
    const baseUrl = `http://127.0.0.1:${port}/`;
    await waitFor(`${baseUrl}api/status?token=${token}`, 60_000);
    const serverSettings = ServerConnection.makeSettings({ baseUrl, wsUrl: `ws://127.0.0.1:${port}/`, token, appendToken: true });
    manager = new KernelManager({ serverSettings });
    await manager.ready;
  });

  afterAll(async () => {
    manager?.dispose();
    server?.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 300));
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("starts, executes, interrupts a long cell, restarts and shuts down", async () => {
    const kernel = await manager.startNew({ name: "nemotron-lab" });
    try {
      const info = await kernel.info;
      expect(info.language_info.name).toBe("typescript");
      expect(info.implementation).toBe("nemotron-lab");

      const first = await run(kernel, 'import * as lab from "nemotron-lab";\nconst k = 6;\nconsole.log("k is", k);\nk * 7');
      expect(first.reply.status).toBe("ok");
      const stream = first.outputs.find((m) => m.header.msg_type === "stream") as KernelMessage.IStreamMsg;
      expect(stream.content.text).toBe("k is 6\n");
      const result = first.outputs.find((m) => m.header.msg_type === "execute_result") as KernelMessage.IExecuteResultMsg;
      expect(result.content.data["text/plain"]).toBe("42");

      // A long generation-style loop, interrupted through the server (interrupt_mode "message").
      const long = start(kernel, 'let produced = 0;\nwhile (true) {\n  await new Promise((r) => setTimeout(r, 10));\n  if (produced++ === 0) console.log("started");\n}');
      await long.running;
      const t0 = Date.now();
      await kernel.interrupt();
      const interrupted = await long.done;
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(interrupted.reply.status).toBe("error");
      expect((interrupted.reply as KernelMessage.IReplyErrorContent).ename).toBe("KeyboardInterrupt");
      const kept = await run(kernel, "k + (produced > 0 ? 1 : 0)");
      expect((kept.outputs.find((m) => m.header.msg_type === "execute_result") as KernelMessage.IExecuteResultMsg).content.data["text/plain"]).toBe("7");

      // A synchronous busy loop too.
      // (its marker needs a turn of the event loop to go out before the loop blocks it)
      const busy = start(kernel, 'console.log("started");\nawait new Promise((r) => setTimeout(r, 100));\nfor (;;) {}');
      await busy.running;
      await kernel.interrupt();
      expect(((await busy.done).reply as KernelMessage.IReplyErrorContent).ename).toBe("KeyboardInterrupt");

      await kernel.restart();
      const after = await run(kernel, "typeof require");
      expect(after.reply.status).toBe("ok");
      expect(after.reply.execution_count).toBe(1);
      const gone = await run(kernel, "k");
      expect(gone.reply.status).toBe("error");
    } finally {
      await kernel.shutdown();
    }
    const running = await (await fetch(`${manager.serverSettings.baseUrl}api/kernels?token=${token}`)).json() as unknown[];
    expect(running, log).toEqual([]);
  });
});
