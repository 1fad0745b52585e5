"""What the jupyter_client suites share: reading the kernel's replies and outputs by parent message."""
import time

TIMEOUT = 30


class ClientReads:
    """For a unittest class with a started client in `cls.kc`."""

    def reply_for(self, msg_id, timeout=TIMEOUT):
        """The shell reply parented to msg_id."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            msg = self.kc.get_shell_msg(timeout=deadline - time.time())
            if msg["parent_header"].get("msg_id") == msg_id:
                return msg
        raise AssertionError("no reply")

    def outputs_for(self, msg_id, timeout=TIMEOUT):
        """iopub messages parented to msg_id, up to and including its idle status."""
        out = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            msg = self.kc.get_iopub_msg(timeout=deadline - time.time())
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            out.append(msg)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                return out
        raise AssertionError("no idle")
