"""A real ipykernel: execute requests carry the front end's ``cellId`` in their metadata, as
JupyterLab and Notebook 7 send it; re-running a cell must replace what it built."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

jupyter_client = pytest.importorskip("jupyter_client")


@pytest.fixture(scope="module")
def kernel():
    from jupyter_client.manager import start_new_kernel

    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def execute(kc, code: str, cell_id: str | None = None, timeout: float = 30.0) -> dict:
    """Send one execute_request the way a front end does; collect its outputs and reply."""
    content = {"code": code, "silent": False, "store_history": True,
               "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}
    metadata = {"cellId": cell_id} if cell_id else {}
    msg = kc.session.msg("execute_request", content, metadata=metadata)
    kc.shell_channel.send(msg)
    msg_id = msg["header"]["msg_id"]
    outputs = []
    while True:
        reply = kc.get_iopub_msg(timeout=timeout)
        if reply["parent_header"].get("msg_id") != msg_id:
            continue
        kind = reply["msg_type"]
        if kind == "status" and reply["content"]["execution_state"] == "idle":
            break
        if kind in ("execute_result", "display_data", "stream", "error"):
            outputs.append(reply)
    shell_reply = kc.get_shell_msg(timeout=timeout)
    while shell_reply["parent_header"].get("msg_id") != msg_id:
        shell_reply = kc.get_shell_msg(timeout=timeout)
    return {"outputs": outputs, "status": shell_reply["content"]["status"]}


def value_of(kc, expr: str):
    result = execute(kc, f"import json as _j; print(_j.dumps({expr}))")
    assert result["status"] == "ok", result
    text = "".join(o["content"]["text"] for o in result["outputs"] if o["msg_type"] == "stream")
    return json.loads(text)


CELL_1 = "%%stream k1\nwords = builder.stream('in').flat_map_values(str.split)\n"
CELL_2 = "%%stream k1\nwords.group_by(lambda k, w: w).count().to_stream().to('out')\n"
NODES = "len(__import__('streamnb.notebook.apps').notebook.apps.get_app('k1').topology.nodes)"
TEXT = "str(__import__('streamnb.notebook.apps').notebook.apps.get_app('k1').topology.describe())"


def test_cell_ids_from_the_front_end_make_reruns_replace(kernel):
    assert execute(kernel, "%load_ext streamnb")["status"] == "ok"
    first = execute(kernel, CELL_1, cell_id="cell-one")
    assert first["status"] == "ok"
    result = [o for o in first["outputs"] if o["msg_type"] == "execute_result"][0]
    data = result["content"]["data"]
    assert "<svg" in data["text/html"]  # front ends get the drawing
    assert data["text/plain"].startswith("Topologies:")
    assert execute(kernel, CELL_2, cell_id="cell-two")["status"] == "ok"
    nodes, text = value_of(kernel, NODES), value_of(kernel, TEXT)
    for _ in range(2):
        assert execute(kernel, CELL_1, cell_id="cell-one")["status"] == "ok"
        assert execute(kernel, CELL_2, cell_id="cell-two")["status"] == "ok"
    assert value_of(kernel, NODES) == nodes
    assert value_of(kernel, TEXT) == text
    # An edited cell replaces its own nodes (same id, new body).
    edited = execute(kernel, CELL_2.replace("'out'", "'out-2'"), cell_id="cell-two")
    assert edited["status"] == "ok"
    assert value_of(kernel, NODES) == nodes
    assert "topic: out-2" in value_of(kernel, TEXT)
    # An error is an error reply with a traceback into the cell; the topology stays.
    broken = execute(kernel, "%%stream k1\nwords.nope()\n", cell_id="cell-two")
    assert broken["status"] == "error"
    error = [o for o in broken["outputs"] if o["msg_type"] == "error"][0]["content"]
    assert error["ename"] == "AttributeError"
    assert any("words.nope()" in line for line in error["traceback"])
    assert "topic: out-2" in value_of(kernel, TEXT)
