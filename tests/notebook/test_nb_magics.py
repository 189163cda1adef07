"""%%stream / %stream in a real IPython InteractiveShell."""

from __future__ import annotations

import pytest

from streamnb.notebook import apps, control
from streamnb.notebook.topology_view import TopologyView

CELL_A = """\
%%stream wc
lines = builder.stream("lines")
words = lines.flat_map_values(lambda line: line.split())
"""
CELL_B = """\
%%stream wc
words.group_by(lambda k, w: w).count(materialized="counts").to_stream().to("out")
"""


def run(ip, source, cell_id=None):
    result = ip.run_cell(source, store_history=True, cell_id=cell_id)
    return result


def describe(app_id="wc"):
    return str(apps.get_app(app_id).topology.describe())


def test_rerun_same_cell_id_replaces(ip):
    assert run(ip, CELL_A, "a").success
    assert run(ip, CELL_B, "b").success
    first = describe()
    nodes = len(apps.get_app("wc").topology.nodes)
    for _ in range(3):
        assert run(ip, CELL_B, "b").success
        assert run(ip, CELL_A, "a").success
    assert describe() == first
    assert len(apps.get_app("wc").topology.nodes) == nodes
    assert list(apps.get_app("wc").cells) == ["id:a", "id:b"]


def test_edited_cell_replaces_its_nodes(ip):
    run(ip, CELL_A, "a")
    run(ip, CELL_B, "b")
    assert run(ip, CELL_B.replace('"out"', '"out2"'), "b").success
    text = describe()
    assert "topic: out2" in text and "topic: out)" not in text
    # Same generated names as a fresh kernel running the two cells in order.
    assert text.count("Sink:") == 2


def test_cell_result_is_drawn_topology_with_describe_text(ip):
    result = run(ip, CELL_A, "a")
    view = result.result
    assert isinstance(view, TopologyView)
    formatters = ip.display_formatter.formatters
    assert formatters["text/plain"](view) == describe()
    # A terminal shell disables the rich formatters; a kernel enables them.
    saved = {m: formatters[m].enabled for m in ("text/html", "image/svg+xml")}
    try:
        for mime in saved:
            formatters[mime].enabled = True
        drawn = formatters["text/html"](view)
        svg = formatters["image/svg+xml"](view)
    finally:
        for mime, enabled in saved.items():
            formatters[mime].enabled = enabled
    assert "<svg" in drawn and "KSTREAM-FLATMAPVALUES-0000000001" in drawn
    assert svg.startswith("<svg")


def test_error_in_cell_keeps_old_topology_and_names(ip):
    run(ip, CELL_A, "a")
    run(ip, CELL_B, "b")
    before = describe()
    words_before = ip.user_ns["words"]
    bad = "%%stream wc\nwords.group_by(lambda k, w: w).count()\nx_new = 1\nwords.mapp(1)\n"
    result = run(ip, bad, "b")
    assert not result.success
    err = result.error_in_exec
    assert isinstance(err, AttributeError)
    # The traceback ends in the cell, on the line that failed (line 4 of the cell).
    tb = err.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    assert tb.tb_lineno == 4
    assert tb.tb_frame.f_code.co_filename.startswith("<ipython-input-") or "ipykernel" in (
        tb.tb_frame.f_code.co_filename) or tb.tb_frame.f_code.co_name == "<module>"
    assert describe() == before
    assert ip.user_ns["words"] is words_before  # the replay's re-bindings were undone
    assert "x_new" not in ip.user_ns
    assert apps.get_app("wc").cells["id:b"].source == CELL_B.split("\n", 1)[1]


def test_syntax_error_keeps_old_topology(ip):
    run(ip, CELL_A, "a")
    before = describe()
    result = run(ip, "%%stream wc\nlines = builder.stream('x'\n", "a")
    assert isinstance(result.error_in_exec, SyntaxError)
    assert describe() == before


def test_name_option_identifies_cell_without_cell_id(ip):
    assert run(ip, "%%stream app2 --name=src\ns = builder.stream('in')\n").success
    assert run(ip, "%%stream app2 --name=sink\ns.to('out')\n").success
    assert run(ip, "%%stream app2 --name=sink\ns.to('other')\n").success
    text = describe("app2")
    assert "topic: other" in text and "topic: out)" not in text
    assert list(apps.get_app("app2").cells) == ["name:src", "name:sink"]


def test_source_hash_fallback_rerun_does_not_duplicate(ip):
    source = "%%stream app3\nbuilder.stream('in').to('out')\n"
    assert run(ip, source).success
    assert run(ip, source).success
    assert len(apps.get_app("app3").topology.nodes) == 2


def test_source_fallback_edit_explains_the_clash(ip):
    assert run(ip, "%%stream app4\nbuilder.stream('in').to('out')\n").success
    result = run(ip, "%%stream app4\nbuilder.stream('in').to('out2')\n")
    assert not result.success
    notes = "".join(getattr(result.error_in_exec, "__notes__", []))
    assert "--name" in notes
    assert len(apps.get_app("app4").cells) == 1


def test_cell_moving_to_another_app_leaves_the_first(ip):
    run(ip, "%%stream one\nbuilder.stream('a').to('b')\n", "c1")
    run(ip, "%%stream one\nbuilder.stream('x').to('y')\n", "c2")
    run(ip, "%%stream two\nbuilder.stream('x').to('y')\n", "c2")
    assert "topics: [x]" not in describe("one")
    assert "topics: [x]" in describe("two")


def test_status_and_usage_errors(ip):
    run(ip, CELL_A, "a")
    status = ip.run_line_magic("stream", "status")
    assert list(status["app"]) == ["wc"]
    assert status.loc[0, "state"] == "NOT_STARTED" and status.loc[0, "cells"] == 1
    with pytest.raises(KeyError, match="no app 'nope'"):
        ip.run_line_magic("stream", "stop nope")
    with pytest.raises(ValueError, match="unknown %stream command"):
        ip.run_line_magic("stream", "launch wc")
    result = run(ip, "%%stream\nbuilder.stream('a')\n", "z")
    assert "one app id" in str(result.error_in_exec)


class FakeStreams:
    """Stands in for KafkaStreams where only the lifecycle matters."""

    instances: list[FakeStreams] = []

    def __init__(self, topology, config):
        self.topology, self.config = topology, config
        self._state = "CREATED"
        self.bootstrap_servers = "127.0.0.1:1"
        FakeStreams.instances.append(self)

    def start(self):
        self._state = "RUNNING"

    def close(self, timeout=None):
        self._state = "NOT_RUNNING"

    def state(self):
        return self._state

    def metrics(self):
        return {}


def test_start_stop_and_restart_on_change_with_fake_runtime(ip, monkeypatch):
    monkeypatch.setattr(control, "_kafka_streams", lambda: FakeStreams)
    FakeStreams.instances.clear()
    run(ip, CELL_A, "a")
    run(ip, CELL_B, "b")
    result = run(ip, "streams = %stream start wc --num.stream.threads=2", "s")
    assert result.success
    streams = ip.user_ns["streams"]
    assert isinstance(streams, FakeStreams) and streams.state() == "RUNNING"
    # notebook apps count records per node (the live topology shows them): DEBUG level
    assert streams.config == {"application.id": "wc", "num.stream.threads": 2,
                              "metrics.recording.level": "DEBUG"}
    # An unchanged re-run does not restart.
    run(ip, CELL_B, "b")
    assert len(FakeStreams.instances) == 1
    # A changed cell restarts the app on the new topology and re-binds `streams`.
    run(ip, CELL_B.replace("counts", "counts2"), "b")
    assert len(FakeStreams.instances) == 2
    old, new = FakeStreams.instances
    assert old.state() == "NOT_RUNNING" and new.state() == "RUNNING"
    assert ip.user_ns["streams"] is new
    assert "counts2" in new.topology.stores
    assert ip.run_line_magic("stream", "status").loc[0, "state"] == "RUNNING"
    ip.run_line_magic("stream", "stop wc")
    assert new.state() == "NOT_RUNNING"


def test_restart_refused_keeps_old_instance_running(ip, monkeypatch):
    class Refusing(FakeStreams):
        def __init__(self, topology, config):
            if FakeStreams.instances:
                raise ValueError("topology not allowed")
            super().__init__(topology, config)

    monkeypatch.setattr(control, "_kafka_streams", lambda: Refusing)
    FakeStreams.instances.clear()
    run(ip, CELL_A, "a")
    ip.run_line_magic("stream", "start wc")
    app = apps.get_app("wc")
    message = control.restart_app(app, "test")
    assert "cannot restart" in message and "topology not allowed" in message
    assert FakeStreams.instances[0].state() == "RUNNING"
