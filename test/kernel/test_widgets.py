"""The Jupyter widget messaging protocol (2.1) of the kernel through the real jupyter_client.

Each test plays the frontend: it reads the kernel's comm_open / comm_msg on iopub and sends
comm_msg / comm_open / comm_close on shell, checking the message shapes against the spec
(ipywidgets packages/schema/messages.md): open with state and buffer_paths and the protocol
version in metadata, update, echo_update, request_state, custom, binary buffers both ways,
the widget-view display bundle, jupyter.widget.control's update_states, and close.
Run by test/widgets-protocol.test.ts with JUPYTER_PATH pointing at a temporary kernelspec.
"""
import queue
import struct
import tempfile
import unittest

from jupyter_client.manager import KernelManager

from kernel_client import TIMEOUT, ClientReads
VIEW = "application/vnd.jupyter.widget-view+json"


class WidgetProtocol(ClientReads, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.km = KernelManager(kernel_name="nemotron-lab")
        cls.km.start_kernel(cwd=tempfile.mkdtemp(prefix="nemotron-lab-widgets-"))
        cls.kc = cls.km.client()
        cls.kc.start_channels()
        cls.kc.wait_for_ready(timeout=60)
        reply = cls.kc.execute_interactive('import * as lab from "nemotron-lab"; const W = lab.widgets;', timeout=60, output_hook=lambda m: None)
        assert reply["content"]["status"] == "ok", reply["content"]

    @classmethod
    def tearDownClass(cls):
        cls.kc.stop_channels()
        cls.km.shutdown_kernel(now=True)

    # -- helpers --------------------------------------------------------------------------------

    def run_ok(self, code):
        msg_id = self.kc.execute(code)
        reply = self.reply_for(msg_id)
        out = self.outputs_for(msg_id)
        errors = [m["content"] for m in out if m["msg_type"] == "error"]
        assert reply["content"]["status"] == "ok", (reply["content"], errors)
        return out

    def send(self, msg_type, content, buffers=None, metadata=None):
        msg = self.kc.session.msg(msg_type, content, metadata=metadata or {})
        self.kc.shell_channel.send(msg) if not buffers else self.kc.session.send(self.kc.shell_channel.socket, msg, buffers=buffers)
        return self.outputs_for(msg["header"]["msg_id"])

    def comm_msgs(self, out, comm_id=None):
        return [m for m in out if m["msg_type"] == "comm_msg" and (comm_id is None or m["content"]["comm_id"] == comm_id)]

    def stderr(self, out):
        return "".join(m["content"]["text"] for m in out if m["msg_type"] == "stream" and m["content"]["name"] == "stderr")

    def opens(self, out):
        return {m["content"]["comm_id"]: m for m in out if m["msg_type"] == "comm_open"}

    def slider(self, code="var s: any = new W.IntSlider({ value: 3, min: 0, max: 10, description: 'layer' }); display(s);"):
        out = self.run_ok(code)
        opens = self.opens(out)
        view = [m for m in out if m["msg_type"] == "display_data"][0]["content"]["data"]
        return view[VIEW]["model_id"], opens, view, out

    # -- tests ----------------------------------------------------------------------------------

    def test_open_state_and_display(self):
        model_id, opens, view, _ = self.slider()
        m = opens[model_id]
        self.assertEqual(m["content"]["target_name"], "jupyter.widget")
        self.assertEqual(m["metadata"]["version"], "2.1.0")
        state = m["content"]["data"]["state"]
        self.assertEqual(m["content"]["data"]["buffer_paths"], [])
        for k, v in {"_model_name": "IntSliderModel", "_model_module": "@jupyter-widgets/controls", "_model_module_version": "2.0.0",
                     "_view_name": "IntSliderView", "_view_module": "@jupyter-widgets/controls", "_view_module_version": "2.0.0",
                     "value": 3, "min": 0, "max": 10, "step": 1, "description": "layer", "readout_format": "d"}.items():
            self.assertEqual(state[k], v, k)
        # layout and style are their own models, opened before the slider and referenced by id.
        layout_id = state["layout"].removeprefix("IPY_MODEL_")
        style_id = state["style"].removeprefix("IPY_MODEL_")
        self.assertEqual(opens[layout_id]["content"]["data"]["state"]["_model_name"], "LayoutModel")
        self.assertEqual(opens[layout_id]["content"]["data"]["state"]["_model_module"], "@jupyter-widgets/base")
        self.assertEqual(opens[style_id]["content"]["data"]["state"]["_model_name"], "SliderStyleModel")
        order = list(opens)
        self.assertLess(order.index(layout_id), order.index(model_id))
        # The display: the view mime with its schema version, and text/html + text/plain fallbacks.
        self.assertEqual(view[VIEW], {"version_major": 2, "version_minor": 0, "model_id": model_id})
        self.assertIn('type="range"', view["text/html"])
        self.assertIn("IntSlider(", view["text/plain"])

    def test_update_echo_and_observe(self):
        model_id, _, _, _ = self.slider()
        self.run_ok("var seen: any = []; s.observe('value', (c) => { seen.push([c.old, c.new]); console.log('moved', c.old, '->', c.new); });")
        out = self.send("comm_msg", {"comm_id": model_id, "data": {"method": "update", "state": {"value": 7}, "buffer_paths": []}})
        msgs = self.comm_msgs(out, model_id)
        # An echo_update of exactly what the frontend sent, and no update back (the value is the frontend's).
        self.assertEqual([m["content"]["data"]["method"] for m in msgs], ["echo_update"])
        self.assertEqual(msgs[0]["content"]["data"]["state"], {"value": 7})
        self.assertEqual(msgs[0]["content"]["data"]["buffer_paths"], [])
        stdout = "".join(m["content"]["text"] for m in out if m["msg_type"] == "stream")
        self.assertIn("moved 3 -> 7", stdout)
        out = self.run_ok("console.log(JSON.stringify(seen), s.value)")
        self.assertIn("[[3,7]] 7", "".join(m["content"]["text"] for m in out if m["msg_type"] == "stream"))
        # Out of range from the frontend: echoed, then clamped by the kernel and sent back as an update.
        out = self.send("comm_msg", {"comm_id": model_id, "data": {"method": "update", "state": {"value": 99}, "buffer_paths": []}})
        self.assertEqual([(m["content"]["data"]["method"], m["content"]["data"]["state"]) for m in self.comm_msgs(out, model_id)],
                         [("echo_update", {"value": 99}), ("update", {"value": 10})])
        # Kernel-side set: one update with just the changed key.
        out = self.run_ok("s.set({ value: 4, description: 'L' })")
        ups = self.comm_msgs(out, model_id)
        self.assertEqual(len(ups), 1)
        self.assertEqual(ups[0]["content"]["data"], {"method": "update", "state": {"value": 4, "description": "L"}, "buffer_paths": []})
        # A wrong type from the frontend is reported (stderr), never crashes the kernel.
        out = self.send("comm_msg", {"comm_id": model_id, "data": {"method": "update", "state": {"value": "x"}}})
        self.assertIn("IntSlider.value", self.stderr(out))
        self.assertIn("expected an integer", self.stderr(out))
        self.run_ok("if (s.value !== 4) throw new Error('value changed by a bad update')")

    def test_request_state(self):
        model_id, opens, _, _ = self.slider()
        out = self.send("comm_msg", {"comm_id": model_id, "data": {"method": "request_state"}})
        msgs = self.comm_msgs(out, model_id)
        self.assertEqual(len(msgs), 1)
        data = msgs[0]["content"]["data"]
        self.assertEqual(data["method"], "update")
        self.assertEqual(data["state"], opens[model_id]["content"]["data"]["state"])

    def test_custom_both_ways(self):
        out = self.run_ok("var b: any = new W.Button({ description: 'go' }); var clicks: any = 0; b.onClick(() => { clicks++; }); display(b);")
        model_id = [m for m in out if m["msg_type"] == "display_data"][0]["content"]["data"][VIEW]["model_id"]
        self.send("comm_msg", {"comm_id": model_id, "data": {"method": "custom", "content": {"event": "click"}}})
        self.send("comm_msg", {"comm_id": model_id, "data": {"method": "custom", "content": {"event": "click"}}})
        out = self.run_ok("console.log('clicks', clicks); b.send({ hello: 1 })")
        self.assertIn("clicks 2", "".join(m["content"]["text"] for m in out if m["msg_type"] == "stream"))
        self.assertEqual(self.comm_msgs(out, model_id)[0]["content"]["data"], {"method": "custom", "content": {"hello": 1}})

    def test_binary_buffers_both_ways(self):
        # A Float32Array in state goes as a buffer at its path (removed from the dict / null in a list).
        out = self.run_ok(
            "var spec: any = { name: 'Arr', modelName: 'ArrModel', model: { module: 'test', version: '1' }, viewName: null, view: { module: 'test', version: '1' },"
            " props: { data: W.Widget === undefined ? null : lab.widgets.Widget && { default: () => null, check: (v) => v, fromJson: (v) => v, toJson: (v) => v, sync: true, echo: true },"
            "  pair: { default: () => null, check: (v) => v, fromJson: (v) => v, toJson: (v) => v, sync: true, echo: false } } };"
            "var arr: any = new W.Widget(spec, { data: { values: new Float32Array([1.5, -2, 3.25]), shape: [3] }, pair: [1, new Uint8Array([7, 8])] });"
            "arr.onCustom((c, bufs) => console.log('custom', JSON.stringify(c), bufs.map((b) => Array.from(b)).join('|')));"
            "arr.observe('data', (c) => console.log('got', c.new.values.constructor.name, c.new.values.byteLength, c.new.values.getFloat32(4, true)));")
        opens = self.opens(out)
        m = [o for o in opens.values() if o["content"]["data"]["state"]["_model_name"] == "ArrModel"][0]
        data = m["content"]["data"]
        self.assertEqual(data["buffer_paths"], [["data", "values"], ["pair", 1]])
        self.assertEqual(data["state"]["data"], {"shape": [3]})
        self.assertEqual(data["state"]["pair"], [1, None])
        self.assertEqual(struct.unpack("<3f", bytes(m["buffers"][0])), (1.5, -2.0, 3.25))
        self.assertEqual(bytes(m["buffers"][1]), b"\x07\x08")
        comm_id = m["content"]["comm_id"]
        # Frontend -> kernel: an update whose value arrives as a buffer.
        payload = struct.pack("<2f", 0.5, 4.0)
        out = self.send("comm_msg", {"comm_id": comm_id, "data": {"method": "update", "state": {"data": {"shape": [2]}}, "buffer_paths": [["data", "values"]]}}, buffers=[payload])
        stdout = "".join(m["content"]["text"] for m in out if m["msg_type"] == "stream")
        self.assertIn("got DataView 8 4", stdout)
        echo = self.comm_msgs(out, comm_id)[0]
        self.assertEqual(echo["content"]["data"]["method"], "echo_update")
        self.assertEqual(echo["content"]["data"]["buffer_paths"], [["data", "values"]])
        self.assertEqual(bytes(echo["buffers"][0]), payload)
        # Custom messages carry buffers both ways.
        out = self.send("comm_msg", {"comm_id": comm_id, "data": {"method": "custom", "content": {"k": 1}}}, buffers=[b"\x01\x02\x03"])
        self.assertIn('custom {"k":1} 1,2,3', "".join(m["content"]["text"] for m in out if m["msg_type"] == "stream"))
        out = self.run_ok("arr.send({ n: 2 }, [new Uint8Array(new Float32Array([9]).buffer)])")
        msg = self.comm_msgs(out, comm_id)[0]
        self.assertEqual(struct.unpack("<f", bytes(msg["buffers"][0])), (9.0,))
        # A buffer_paths / buffers mismatch is an error naming both counts.
        out = self.send("comm_msg", {"comm_id": comm_id, "data": {"method": "update", "state": {}, "buffer_paths": [["data"]]}})
        self.assertIn("1 buffer_paths but 0 binary buffers", self.stderr(out))

    def test_control_comm_update_states(self):
        model_id, opens, _, _ = self.slider()
        out = self.send("comm_open", {"comm_id": "ctl1", "target_name": "jupyter.widget.control", "data": {}}, metadata={"version": "1.0.0"})
        self.assertFalse([m for m in out if m["msg_type"] == "comm_close"])
        out = self.send("comm_msg", {"comm_id": "ctl1", "data": {"method": "request_states"}})
        data = self.comm_msgs(out, "ctl1")[0]["content"]["data"]
        self.assertEqual(data["method"], "update_states")
        st = data["states"][model_id]
        self.assertEqual((st["model_name"], st["model_module"], st["model_module_version"]), ("IntSliderModel", "@jupyter-widgets/controls", "2.0.0"))
        self.assertEqual(st["state"]["description"], opens[model_id]["content"]["data"]["state"]["description"])
        self.assertIn(opens[model_id]["content"]["data"]["state"]["layout"].removeprefix("IPY_MODEL_"), data["states"])
        self.assertIsInstance(data["buffer_paths"], list)
        self.send("comm_close", {"comm_id": "ctl1", "data": {}})

    def test_frontend_opened_model(self):
        state = {"_model_name": "IntTextModel", "_model_module": "@jupyter-widgets/controls", "_model_module_version": "2.0.0",
                 "_view_name": "IntTextView", "_view_module": "@jupyter-widgets/controls", "_view_module_version": "2.0.0", "value": 5}
        out = self.send("comm_open", {"comm_id": "front1", "target_name": "jupyter.widget", "data": {"state": state, "buffer_paths": []}}, metadata={"version": "2.1.0"})
        self.assertFalse([m for m in out if m["msg_type"] == "comm_close"], self.stderr(out))
        out = self.run_ok("const fw: any = W.widgetModels().get('front1'); console.log(fw.spec.modelName, fw.get('value'));")
        self.assertIn("IntTextModel 5", "".join(m["content"]["text"] for m in out if m["msg_type"] == "stream"))
        # A major protocol version we do not speak is refused with a comm_close.
        out = self.send("comm_open", {"comm_id": "front2", "target_name": "jupyter.widget", "data": {"state": state}}, metadata={"version": "3.0.0"})
        self.assertTrue([m for m in out if m["msg_type"] == "comm_close" and m["content"]["comm_id"] == "front2"])
        self.assertIn("protocol version", self.stderr(out))

    def test_output_capture_by_msg_id(self):
        out = self.run_ok("var o: any = new W.Output(); display(o); var sl: any = new W.IntSlider({ value: 1, max: 5 });"
                          "sl.observe('value', (c) => o.capture(() => { o.clear({ wait: true }); display({ 'text/html': `<b>layer ${c.new}</b>` }); }));")
        out_id = [m for m in out if m["msg_type"] == "display_data"][0]["content"]["data"][VIEW]["model_id"]
        sl_id = [m["content"]["comm_id"] for m in out if m["msg_type"] == "comm_open" and m["content"]["data"]["state"]["_model_name"] == "IntSliderModel"][0]
        msg = self.kc.session.msg("comm_msg", {"comm_id": sl_id, "data": {"method": "update", "state": {"value": 4}, "buffer_paths": []}})
        self.kc.shell_channel.send(msg)
        out = self.outputs_for(msg["header"]["msg_id"])
        # msg_id set to the request being handled, then the outputs (parented to it), then msg_id cleared.
        seq = [(m["msg_type"], m["content"].get("data", {}).get("state", {}).get("msg_id") if m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == out_id else None) for m in out]
        seq = [s for s in seq if s[0] in ("clear_output", "display_data") or s[1] is not None]
        self.assertEqual(seq, [("comm_msg", msg["header"]["msg_id"]), ("clear_output", None), ("display_data", None), ("comm_msg", "")])
        shown = [m for m in out if m["msg_type"] == "display_data"][0]
        self.assertEqual(shown["parent_header"]["msg_id"], msg["header"]["msg_id"])
        self.assertIn("<b>layer 4</b>", shown["content"]["data"]["text/html"])
        self.assertEqual([m["content"]["wait"] for m in out if m["msg_type"] == "clear_output"], [True])

    def test_interact_and_static_fallback(self):
        out = self.run_ok("var iw: any = lab.interact(({ n, kind }) => `n=${n} kind=${kind}`, { n: { min: 0, max: 8 }, kind: ['mamba', 'mlp'] });")
        shown = [m for m in out if m["msg_type"] == "display_data"]
        # The first run's output goes to the Output widget (captured by the execute request's msg_id) ...
        self.assertEqual(shown[0]["content"]["data"]["text/plain"], "n=4 kind=mamba")
        # ... and the interact box's static HTML carries the controls and that output.
        box = shown[-1]["content"]["data"]
        self.assertIn(VIEW, box)
        self.assertIn("<select disabled>", box["text/html"])
        self.assertIn("n=4 kind=mamba", box["text/html"])
        dd = [m["content"]["comm_id"] for m in out if m["msg_type"] == "comm_open" and m["content"]["data"]["state"]["_model_name"] == "DropdownModel"][0]
        out = self.send("comm_msg", {"comm_id": dd, "data": {"method": "update", "state": {"index": 1}, "buffer_paths": []}})
        self.assertEqual([m["content"]["data"]["text/plain"] for m in out if m["msg_type"] == "display_data"], ["n=4 kind=mlp"])

    def test_interact_as_last_expression_shows_once(self):
        # As ipywidgets' interact: the call shows the box; the cell's result does not show it again.
        out = self.run_ok("lab.interact(({ n }) => `n=${n}`, { n: 3 })")
        views = [m for m in out if m["msg_type"] in ("display_data", "execute_result") and VIEW in m["content"]["data"]]
        self.assertEqual([m["msg_type"] for m in views], ["display_data"])
        # A later cell that names the widget shows it (a second view), as for any value.
        self.run_ok("var again: any = lab.interact(({ n }) => `n=${n}`, { n: 3 });")
        out = self.run_ok("again")
        self.assertEqual([m["msg_type"] for m in out if m["msg_type"] in ("display_data", "execute_result") and VIEW in m["content"]["data"]], ["execute_result"])

    def test_activation_explorer_redraws_on_a_frontend_update(self):
        out = self.run_ok("var ax: any = lab.exploreActivations(lab.NemotronH.load(await lab.bundledModel()), 'Der Hund ist');"
                          "console.log('ids', ax.head.modelId, ax.position.modelId, ax.layer.value);")
        stdout = "".join(m["content"]["text"] for m in out if m["msg_type"] == "stream" and m["content"]["name"] == "stdout")
        head_id, pos_id, layer = stdout.split("ids ")[1].split()
        box = [m for m in out if m["msg_type"] == "display_data" and VIEW in m["content"]["data"]][-1]["content"]["data"]
        self.assertIn("logit lens at position 4", box["text/html"])
        # Moving the head slider: echoed, then the Output redraws the new head's matrix, parented to the update.
        msg = self.kc.session.msg("comm_msg", {"comm_id": head_id, "data": {"method": "update", "state": {"value": 3}, "buffer_paths": []}})
        self.kc.shell_channel.send(msg)
        out = self.outputs_for(msg["header"]["msg_id"])
        self.assertEqual([m["content"]["data"]["method"] for m in self.comm_msgs(out, head_id)], ["echo_update"])
        figs = [m["content"]["data"]["application/vnd.plotly.v1+json"] for m in out
                if m["msg_type"] == "display_data" and "application/vnd.plotly.v1+json" in m["content"]["data"]]
        self.assertEqual([f["layout"]["title"]["text"] for f in figs], [f"layer {layer} Mamba-2 effective attention, head 3"])
        # Moving the position slider updates the logit lens HTML widget's value.
        out = self.send("comm_msg", {"comm_id": pos_id, "data": {"method": "update", "state": {"value": 1}, "buffer_paths": []}})
        values = [m["content"]["data"]["state"].get("value", "") for m in self.comm_msgs(out) if m["content"]["comm_id"] != pos_id]
        self.assertTrue(any("logit lens at position 1" in v for v in values if isinstance(v, str)), values)

    def test_close(self):
        model_id, _, _, _ = self.slider("var c: any = new W.Checkbox({ value: true }); display(c);")
        out = self.run_ok("c.close(); console.log(c.closed, W.widgetModels().has(c.modelId))")
        closes = [m for m in out if m["msg_type"] == "comm_close"]
        self.assertEqual([m["content"]["comm_id"] for m in closes], [model_id])
        self.assertIn("true false", "".join(m["content"]["text"] for m in out if m["msg_type"] == "stream"))
        info = self.kc.comm_info(target_name="jupyter.widget")
        while True:
            r = self.kc.get_shell_msg(timeout=TIMEOUT)
            if r["parent_header"].get("msg_id") == info:
                break
        self.assertNotIn(model_id, r["content"]["comms"])
        # Closed by the frontend: the kernel forgets the model.
        model_id, _, _, _ = self.slider("var t: any = new W.Text({ value: 'a' }); display(t);")
        self.send("comm_close", {"comm_id": model_id, "data": {}})
        out = self.run_ok("console.log('closed', t.closed)")
        self.assertIn("closed true", "".join(m["content"]["text"] for m in out if m["msg_type"] == "stream"))


if __name__ == "__main__":
    unittest.main()
