"""Kernel behaviour through the real jupyter_client (and raw pyzmq for malformed input).

Covers interrupts (message and signal modes, sync and async cells), stop_on_error, stdin, comms
both ways, output routing of async work, errors from timers, silent/store_history/user_expressions,
tracebacks on the cell's lines, display updates, progress, plotly bundles, importing nemotron-lab
from any folder, bad frames and signatures, heartbeat and control during a busy cell, restart.
Run by test/kernel-behaviour.test.ts with JUPYTER_PATH pointing at a temporary kernelspec.
"""
import os
import queue
import signal
import tempfile
import time
import unittest

import zmq
from jupyter_client.manager import KernelManager

from kernel_client import TIMEOUT, ClientReads


class KernelBehaviour(ClientReads, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="nemotron-lab-notebook-")
        cls.km = KernelManager(kernel_name="nemotron-lab")
        cls.km.start_kernel(cwd=cls.workdir)
        cls.kc = cls.km.client()
        cls.kc.start_channels()
        cls.kc.wait_for_ready(timeout=60)

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel(now=True)

    # -- helpers --------------------------------------------------------------------------------

    def drain_iopub(self):
        while True:
            try:
                self.kc.get_iopub_msg(timeout=0.05)
            except queue.Empty:
                return

    def run_cell(self, code, **kw):
        msg_id = self.kc.execute(code, **kw)
        reply = self.reply_for(msg_id)
        return reply, self.outputs_for(msg_id)

    def value(self, code):
        reply, out = self.run_cell(code)
        self.assertEqual(reply["content"]["status"], "ok", reply["content"])
        results = [m for m in out if m["msg_type"] == "execute_result"]
        return results[0]["content"]["data"] if results else None

    # Interrupt tests never race a clock: the cell shows MARKER once its work has provably
    # started, and that work cannot finish on its own (an endless loop or token budget, or a
    # loop held until the test opens a gate file).
    MARKER = "<<started>>"
    SHOW_MARKER = 'display("<<started>>");'

    def wait_for_marker(self, msg_id, timeout=TIMEOUT):
        deadline = time.time() + timeout
        while time.time() < deadline:
            msg = self.kc.get_iopub_msg(timeout=deadline - time.time())
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] in ("display_data", "stream") and self.MARKER in str(msg["content"]):
                return
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                raise AssertionError("the cell ended before showing its start marker")
        raise AssertionError("no start marker")

    def gate(self):
        """A file path, and a TypeScript expression that is true once the test creates it."""
        path = os.path.join(self.workdir, "gate-%d" % time.monotonic_ns())
        return path, 'require("fs").existsSync(%r)' % path

    def stdout(self, out):
        return "".join(m["content"]["text"] for m in out if m["msg_type"] == "stream" and m["content"]["name"] == "stdout")

    # -- execution ------------------------------------------------------------------------------

    def test_busy_idle_wrap_every_request_in_order(self):
        self.drain_iopub()
        msg_id = self.kc.execute('console.log("x"); 1')
        self.reply_for(msg_id)
        states = [m["msg_type"] if m["msg_type"] != "status" else m["content"]["execution_state"] for m in self.outputs_for(msg_id)]
        self.assertEqual(states[0], "busy")
        self.assertEqual(states[-1], "idle")
        self.assertEqual(states[1], "execute_input")
        self.assertIn("stream", states)
        self.assertLess(states.index("stream"), states.index("execute_result"))

    def test_state_and_types_carry_between_cells(self):
        self.value("interface Pt { x: number }\nlet pt: Pt = { x: 3 };\nfunction twice(n: number) { return 2 * n; }")
        self.assertEqual(self.value("twice(pt.x)")["text/plain"], "6")

    def test_execution_count_silent_store_history(self):
        r1, _ = self.run_cell("1")
        c1 = r1["content"]["execution_count"]
        r2, out2 = self.run_cell("2", silent=True)
        self.assertEqual(r2["content"]["execution_count"], c1)
        self.assertEqual([m["msg_type"] for m in out2 if m["msg_type"] not in ("status",)], [])
        r3, out3 = self.run_cell("3", store_history=False)
        self.assertEqual(r3["content"]["execution_count"], c1)
        self.assertTrue(any(m["msg_type"] == "execute_result" for m in out3))
        r4, _ = self.run_cell("4")
        self.assertEqual(r4["content"]["execution_count"], c1 + 1)

    def test_user_expressions(self):
        msg_id = self.kc.execute("const ue = 20;", user_expressions={"a": "ue + 1", "b": "nope("})
        reply = self.reply_for(msg_id)
        ue = reply["content"]["user_expressions"]
        self.assertEqual(ue["a"]["status"], "ok")
        self.assertEqual(ue["a"]["data"]["text/plain"], "21")
        self.assertEqual(ue["b"]["status"], "error")

    def test_runtime_traceback_points_at_cell_lines(self):
        reply, out = self.run_cell("const a1 = 1;\nconst a2 = 2;\nthrow new RangeError('bad ' + a2);")
        self.assertEqual(reply["content"]["status"], "error")
        err = [m for m in out if m["msg_type"] == "error"][0]["content"]
        self.assertEqual(err["ename"], "RangeError")
        self.assertEqual(err["evalue"], "bad 2")
        tb = "\n".join(err["traceback"])
        count = reply["content"]["execution_count"]
        self.assertRegex(tb, r"cell %d:3:\d+" % count)
        self.assertIn("throw new RangeError", tb)

    def test_type_error_points_at_cell_lines(self):
        reply, out = self.run_cell("let ok = 1;\nlet n: number = 'text';")
        self.assertEqual(reply["content"]["status"], "error")
        err = [m for m in out if m["msg_type"] == "error"][0]["content"]
        self.assertEqual(err["ename"], "TSError")
        self.assertIn("TS2322", err["evalue"])
        self.assertRegex("\n".join(err["traceback"]), r"cell \d+:2:5")

    def test_stop_on_error_aborts_queued_cells(self):
        # As in "run all": the failing cell waits on a gate the test opens only once the others
        # are queued behind it, so it fails with them waiting whatever the speed.
        def slow_fail():
            path, opened = self.gate()
            return path, "while (!%s) await new Promise((r) => setTimeout(r, 10));\nthrow new Error('first')" % opened
        path, code = slow_fail()
        ids = [self.kc.execute(code), self.kc.execute("1"), self.kc.execute("2")]
        open(path, "w").close()
        statuses = [self.reply_for(i)["content"]["status"] for i in ids]
        self.assertEqual(statuses, ["error", "aborted", "aborted"])
        path, code = slow_fail()
        ids = [self.kc.execute(code, stop_on_error=False), self.kc.execute("1")]
        open(path, "w").close()
        statuses = [self.reply_for(i)["content"]["status"] for i in ids]
        self.assertEqual(statuses, ["error", "ok"])

    def test_async_output_goes_to_the_cell_that_started_it(self):
        first = self.kc.execute('setTimeout(() => console.log("late line"), 400); "started"')
        self.reply_for(first)
        second = self.kc.execute('await new Promise((r) => setTimeout(r, 800)); "second"')
        self.reply_for(second)
        late = []
        deadline = time.time() + 5
        while time.time() < deadline and not late:
            msg = self.kc.get_iopub_msg(timeout=5)
            if msg["msg_type"] == "stream" and "late line" in msg["content"]["text"]:
                late.append(msg)
        self.assertEqual(late[0]["parent_header"]["msg_id"], first)

    def test_throw_in_timer_keeps_kernel_alive(self):
        first = self.kc.execute("setTimeout(() => { throw new Error('timer boom'); }, 50); 1")
        self.reply_for(first)
        time.sleep(0.3)
        self.assertEqual(self.value("40 + 2")["text/plain"], "42")
        self.value("Promise.reject(new Error('rejected boom')); 0")
        time.sleep(0.2)
        self.assertEqual(self.value("'alive'")["text/plain"], "'alive'")

    # -- interrupts -----------------------------------------------------------------------------

    def interrupt_cell(self, code, how):
        """Runs code (endless work that shows MARKER once started) and interrupts it."""
        self.value("var keepMe = 'kept';")
        msg_id = self.kc.execute(code)
        self.wait_for_marker(msg_id)
        t0 = time.time()
        if how == "message":
            self.km.interrupt_kernel()
        else:
            self.km.signal_kernel(signal.SIGINT)
        reply = self.reply_for(msg_id, timeout=10)
        elapsed = time.time() - t0
        self.assertEqual(reply["content"]["status"], "error")
        self.assertEqual(reply["content"]["ename"], "KeyboardInterrupt")
        self.assertLess(elapsed, 5)
        self.assertEqual(self.value("keepMe")["text/plain"], "'kept'")

    def test_interrupt_message_async_token_loop(self):
        self.interrupt_cell(self.SHOW_MARKER + "\nlet tokens = 0;\nwhile (true) { await new Promise((r) => setTimeout(r, 5)); tokens++; }", "message")
        # The loop really stopped: the counter no longer moves.
        a = self.value("tokens")["text/plain"]
        time.sleep(0.2)
        self.assertEqual(self.value("tokens")["text/plain"], a)

    def test_interrupt_message_stops_a_library_generation(self):
        # One await on the library's generation loop: the interrupt must stop the loop itself
        # (it listens to the cell's signal), not only the cell waiting for it. The token budget
        # is endless (a model without attention needs no KV cache for it); the model shows the
        # marker at its first decode step.
        self.value(
            'import * as lab from "nemotron-lab";\n'
            'const genDir = require("path").join(require("os").tmpdir(), "nl-kernel-gen-" + process.pid);\n'
            'await lab.makeTiny(genDir, { pattern: "M-" });\n'
            'const genModel = lab.NemotronH.load(genDir);\n'
            'const gen = lab.stream(genModel, undefined, { ids: [1, 2], maxTokens: 2, ignoreEos: true });\n'
            '(await gen.result).finishReason'
        )
        self.interrupt_cell(
            "let genCalls = 0;\n"
            "const marked: lab.CausalLM = { config: genModel.config, vocabSize: genModel.vocabSize, newState: (o) => genModel.newState(o),\n"
            "  forward: (ids, st, o) => { if (++genCalls === 2) display('<<started>>'); return genModel.forward(ids, st, o); } };\n"
            "const long = lab.stream(marked, undefined, { ids: [1, 2], maxTokens: 1e9, maxContext: 2e9, ignoreEos: true });\n"
            "(globalThis as any).longResult = long.result;\n"
            "await long.result;",
            "message",
        )
        r = self.value("const lr = await (globalThis as any).longResult; [lr.finishReason, lr.generatedTokens > 0]")
        self.assertEqual(r["text/plain"], "[ 'aborted', true ]")

    def test_interrupt_leaves_the_model_as_it_was(self):
        # Each library operation that changes the model temporarily is stopped mid-way by the
        # VM's SIGINT break (which skips finally blocks): the model is held at a point where it is
        # changed (a Proxy spins in an uninstrumented loop that only SIGINT ends), then the
        # model must have no replaced weight and bit-identical logits.
        self.value(
            'import * as lab from "nemotron-lab";\n'
            'const qDir = require("path").join(require("os").tmpdir(), "nl-kernel-undo-" + process.pid);\n'
            'await lab.makeTiny(qDir, { seed: 5 });\n'
            'const qModel = lab.NemotronH.load(qDir);\n'
            'const qIds = [1, 5, 9, 200, 17];\n'
            'const qBefore = Buffer.from(qModel.logits(qIds).buffer);\n'
            'const spinForever = new Function("for (;;) {}") as () => void;\n'
            '// The model, held forever once `method` returns while `when()` holds.\n'
            'function heldAt(method: string, when: () => boolean): lab.NemotronH {\n'
            '  return new Proxy(qModel, { get(t, k) {\n'
            '    const v = (t as any)[k];\n'
            '    if (typeof v !== "function") return v;\n'
            '    return (...a: unknown[]) => { const r = v.apply(t, a); if (k === method && when()) { display("<<started>>"); spinForever(); } return r; };\n'
            '  } });\n'
            '}\n'
            'const swapped = () => qModel.replacedWeights().length > 0;\n'
            'let calls = 0;'
        )
        cases = {
            "sensitivity sweep, measuring a swapped group":
                'lab.sensitivitySweep(heldAt("forward", swapped), { prompts: [qIds], layers: "all-linear" })',
            "quantizeModel, half-way through its swaps":
                'lab.quantizeModel(heldAt("replaceWeight", () => qModel.replacedWeights().length === 2), { layers: "all-linear" })',
            "quantizeModel with static activations, half-way through its swaps":
                'lab.quantizeModel(heldAt("setInputQuant", () => qModel.replacedWeights().length === 2), { activations: { mode: "static", prompts: [qIds] } })',
            "calibration, observing":
                'calls = 0; lab.calibrateInputScales(heldAt("forward", () => ++calls === 1), ["backbone.layers.0.mixer.in_proj.weight"], [qIds, qIds], "e4m3")',
            "evaluateQuantization, comparing":
                'lab.evaluateQuantization(heldAt("forward", swapped), { layers: "mamba" }, { prompts: [qIds], generate: 2 })',
        }
        for name, code in cases.items():
            with self.subTest(name):
                msg_id = self.kc.execute(code)
                self.wait_for_marker(msg_id)
                self.km.interrupt_kernel()
                reply = self.reply_for(msg_id, timeout=10)
                self.assertEqual(reply["content"]["ename"], "KeyboardInterrupt")
                r = self.value("[qModel.replacedWeights(), Buffer.from(qModel.logits(qIds).buffer).equals(qBefore), lab.pendingUndos()]")
                self.assertEqual(r["text/plain"], "[ [], true, [] ]")

    def test_interrupt_message_sync_busy_loop(self):
        self.interrupt_cell(self.SHOW_MARKER + "\nwhile (true) {}", "message")

    def test_interrupt_message_busy_loop_after_await(self):
        self.interrupt_cell(self.SHOW_MARKER + "\nawait null;\nlet spins = 0;\nwhile (true) { spins++; }", "message")

    def test_interrupt_message_uninstrumented_loop_falls_back_to_sigint(self):
        # Code built with new Function has no inserted checks: only SIGINT (breakOnSigint) stops it.
        self.interrupt_cell(self.SHOW_MARKER + '\nnew Function("for (;;) {}")()', "message")

    def test_interrupt_message_as_uninstrumented_code_ends(self):
        # The socket thread's SIGINT falls due (150 ms) around the moment the cell ends: it must
        # land in the cell or not be sent, never after it (taken by the next cell, lost, or fatal).
        for ms in range(110, 210, 5):
            msg_id = self.kc.execute(self.SHOW_MARKER + '\nnew Function("ms", "const t = Date.now(); while (Date.now() - t < ms) {}")(%d)' % ms)
            self.wait_for_marker(msg_id)
            self.km.interrupt_kernel()
            self.assertIn(self.reply_for(msg_id, timeout=10)["content"]["status"], ("ok", "error"))
            self.assertEqual(self.value("40 + 2")["text/plain"], "42")

    def test_interrupt_signal_sync_busy_loop(self):
        self.interrupt_cell(self.SHOW_MARKER + "\nfor (;;) {}", "signal")

    def test_interrupt_signal_never_resolving_cell(self):
        # The marker shows once the cell awaits. (A SIGINT that lands in the microseconds in which
        # Node's breakOnSigint watchdog stops, as a script ends, is lost: docs/kernel.md.)
        self.interrupt_cell("await null;\n" + self.SHOW_MARKER + "\nawait new Promise(() => {});", "signal")

    def test_interrupt_aborts_current_cell_signal(self):
        msg_id = self.kc.execute(
            "const sig = currentCellSignal()!;\n"
            "await new Promise((_, reject) => { sig.addEventListener('abort', () => { (globalThis as any).sawAbort = true; reject(sig.reason); }); display('<<started>>'); });"
        )
        self.wait_for_marker(msg_id)
        self.km.interrupt_kernel()
        self.assertEqual(self.reply_for(msg_id)["content"]["ename"], "KeyboardInterrupt")
        self.assertEqual(self.value("(globalThis as any).sawAbort")["text/plain"], "true")

    def test_heartbeat_and_control_answer_during_busy_cell(self):
        # Busy until the test has checked: the cell holds on a gate opened afterwards.
        path, opened = self.gate()
        msg_id = self.kc.execute(self.SHOW_MARKER + "\nwhile (!%s) {}" % opened)
        self.wait_for_marker(msg_id)
        ctx = zmq.Context.instance()
        hb = ctx.socket(zmq.REQ)
        hb.linger = 0
        hb.connect("tcp://%s:%d" % (self.km.ip, self.km.hb_port))
        hb.send(b"ping")
        self.assertTrue(hb.poll(1000), "heartbeat did not answer while a cell was busy")
        self.assertEqual(hb.recv(), b"ping")
        hb.close()
        open(path, "w").close()
        self.reply_for(msg_id)

    # -- stdin, comms, display ------------------------------------------------------------------

    def test_input_request_on_stdin(self):
        msg_id = self.kc.execute('const who = await input("Name? ");\nconsole.log("hi " + who)', allow_stdin=True)
        req = self.kc.get_stdin_msg(timeout=TIMEOUT)
        self.assertEqual(req["msg_type"], "input_request")
        self.assertEqual(req["content"]["prompt"], "Name? ")
        self.assertEqual(req["parent_header"]["msg_id"], msg_id)
        self.kc.input("Ada")
        self.assertEqual(self.reply_for(msg_id)["content"]["status"], "ok")
        self.assertIn("hi Ada", self.stdout(self.outputs_for(msg_id)))
        reply, _ = self.run_cell('await input("x")', allow_stdin=False)
        self.assertEqual(reply["content"]["ename"], "StdinNotImplementedError")

    def test_comms_both_ways(self):
        self.value("comms.registerTarget('echo', (comm, data) => { comm.send({ opened: data }); comm.onMsg((d) => comm.send({ echo: d })); });")
        self.drain_iopub()
        comm_id = "c0ffee"
        open_msg = self.kc.session.msg("comm_open", {"comm_id": comm_id, "target_name": "echo", "data": {"v": 1}})
        self.kc.shell_channel.send(open_msg)
        got = [m for m in self.outputs_for(open_msg["header"]["msg_id"]) if m["msg_type"] == "comm_msg"]
        self.assertEqual(got[0]["content"]["data"], {"opened": {"v": 1}})
        msg = self.kc.session.msg("comm_msg", {"comm_id": comm_id, "data": {"x": 2}})
        self.kc.shell_channel.send(msg)
        got = [m for m in self.outputs_for(msg["header"]["msg_id"]) if m["msg_type"] == "comm_msg"]
        self.assertEqual(got[0]["content"]["data"], {"echo": {"x": 2}})
        info = self.kc.comm_info(target_name="echo")
        self.assertIn(comm_id, self.reply_for(info)["content"]["comms"])
        close = self.kc.session.msg("comm_close", {"comm_id": comm_id, "data": {}})
        self.kc.shell_channel.send(close)
        self.outputs_for(close["header"]["msg_id"])
        self.assertNotIn(comm_id, self.reply_for(self.kc.comm_info())["content"]["comms"])
        # Kernel-initiated comm.
        _, out = self.run_cell("const fc = comms.open('front.target', { hello: 1 }); fc.send({ n: 2 }); fc.close();")
        kinds = [m["msg_type"] for m in out if m["msg_type"].startswith("comm_")]
        self.assertEqual(kinds, ["comm_open", "comm_msg", "comm_close"])
        self.assertEqual(out[[m["msg_type"] for m in out].index("comm_open")]["content"]["target_name"], "front.target")

    def test_display_update_and_clear(self):
        _, out = self.run_cell("const h = display({ 'text/plain': 'v1' }, { displayId: true }); h.update({ 'text/plain': 'v2' }); clearOutput({ wait: true });")
        disp = [m for m in out if m["msg_type"] == "display_data"][0]
        upd = [m for m in out if m["msg_type"] == "update_display_data"][0]
        self.assertEqual(disp["content"]["transient"]["display_id"], upd["content"]["transient"]["display_id"])
        self.assertEqual(upd["content"]["data"]["text/plain"], "v2")
        self.assertEqual([m for m in out if m["msg_type"] == "clear_output"][0]["content"]["wait"], True)

    def test_nemotron_lab_importable_with_types_from_any_folder(self):
        self.assertEqual(os.path.realpath(self.value("process.cwd()")["text/plain"].strip("'")), os.path.realpath(self.workdir))
        data = self.value('import * as lab from "nemotron-lab";\nconst fig: lab.PlotlyFigure = { data: [{ y: [1, 3, 2] }] };\nlab.plotlyBundle(fig)')
        self.assertIn("text/plain", data)
        bundle = self.value("lab.plotlyBundle({ data: [{ y: [1, 2] }], layout: { title: 't' } })")
        self.assertIn("'application/vnd.plotly.v1+json'", bundle["text/plain"])
        # A value that renders itself through Symbol.for("Jupyter.display") with a plotly bundle.
        fig = self.value("({ [Symbol.for('Jupyter.display')]() { return lab.plotlyBundle({ data: [{ y: [1, 2] }] }); } })")
        self.assertEqual(fig["application/vnd.plotly.v1+json"]["data"], [{"y": [1, 2]}])
        self.assertIn("Plotly.newPlot", fig["text/html"])
        self.assertNotIn("cdn", fig["text/html"].lower().split("plotly.newplot")[-1])
        reply, out = self.run_cell('import { display as d2 } from "nemotron-lab";\nconst bad: string = d2;')
        self.assertEqual(reply["content"]["ename"], "TSError")

    def test_progress_sink_updates_in_place(self):
        _, out = self.run_cell('import { progress } from "nemotron-lab";\nconst pr = progress("load", 3);\nfor (let i = 1; i <= 3; i++) { pr.update(i); await new Promise((r) => setTimeout(r, 120)); }\npr.finish();')
        first = [m for m in out if m["msg_type"] == "display_data"]
        updates = [m for m in out if m["msg_type"] == "update_display_data"]
        self.assertEqual(len(first), 1)
        self.assertGreaterEqual(len(updates), 2)
        self.assertIn("<progress", updates[-1]["content"]["data"]["text/html"])
        self.assertIn("3/3", updates[-1]["content"]["data"]["text/plain"])

    def test_complete_counts_code_points(self):
        code = 'const emoji = "\U0001F600"; const zzzGamma = 1; zzzG'
        msg_id = self.kc.complete(code, len(code))
        c = self.reply_for(msg_id)["content"]
        self.assertIn("zzzGamma", c["matches"])
        self.assertEqual(c["cursor_end"], len(code))
        self.assertEqual(c["cursor_start"], len(code) - 4)

    # -- bad input ------------------------------------------------------------------------------

    def test_bad_frames_and_signatures_are_dropped(self):
        marker = os.path.join(self.workdir, "forged-ran")
        ctx = zmq.Context.instance()
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect("tcp://%s:%d" % (self.km.ip, self.km.shell_port))
        forged = self.kc.session.msg("execute_request", {
            "code": "require('fs').writeFileSync(%r, 'x')" % marker, "silent": False, "store_history": True,
            "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
        import json
        from jupyter_client.jsonutil import json_default
        parts = [json.dumps(p, default=json_default).encode() for p in (forged["header"], {}, {}, forged["content"])]
        sock.send_multipart([b"garbage"])
        sock.send_multipart([b"<IDS|MSG>", b"sig"])
        sock.send_multipart([b"<IDS|MSG>", b"0" * 64] + parts)  # wrong signature
        sock.send_multipart([b"<IDS|MSG>", b""] + parts)  # missing signature
        good_sig = self.kc.session.sign([b"{not json", b"{}", b"{}", b"{}"])
        sock.send_multipart([b"<IDS|MSG>", good_sig, b"{not json", b"{}", b"{}", b"{}"])
        sock.close()
        unknown = self.kc.session.msg("frobnicate_request", {})
        self.kc.shell_channel.send(unknown)
        reply = self.reply_for(unknown["header"]["msg_id"])
        self.assertEqual(reply["content"]["status"], "error")
        time.sleep(0.3)
        self.assertFalse(os.path.exists(marker), "a message with a bad signature was executed")
        self.assertEqual(self.value("'still serving'")["text/plain"], "'still serving'")

    def test_zz_restart_echoes_and_kernel_comes_back(self):
        msg_id = self.kc.shutdown(restart=True)
        deadline = time.time() + TIMEOUT
        reply = None
        while time.time() < deadline:
            msg = self.kc.get_control_msg(timeout=TIMEOUT)
            if msg["parent_header"].get("msg_id") == msg_id:
                reply = msg
                break
        self.assertEqual(reply["content"], {"status": "ok", "restart": True})
        self.km.restart_kernel(now=False)
        self.kc.wait_for_ready(timeout=60)
        # A fresh process: counting starts again and earlier names are gone.
        reply, _ = self.run_cell("const fresh = 1;")
        self.assertEqual(reply["content"]["execution_count"], 1)
        reply, _ = self.run_cell("keepMe")
        self.assertIn("Cannot find name 'keepMe'", reply["content"]["evalue"])


if __name__ == "__main__":
    unittest.main()
