"""%stream start / status / stop with the real runtime on the embedded broker, and a live
status widget following the running app."""

from __future__ import annotations

import time
import uuid

import pytest

from streamnb.notebook import _updater, apps
from streamnb.notebook.widgets import StatusView, status_view

confluent_kafka = pytest.importorskip("confluent_kafka")


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_start_status_stop_on_the_embedded_broker(ip, tmp_path):
    app_id = f"nb-{uuid.uuid4().hex[:8]}"
    source = f"%%stream {app_id}\nbuilder.stream('{app_id}-in').map_values(str.upper)" \
             f".to('{app_id}-out')\n"
    assert ip.run_cell(source, cell_id="rt-1").success
    result = ip.run_cell(f"streams = %stream start {app_id} --state.dir={tmp_path}",
                         cell_id="rt-2")
    assert result.success, result.error_in_exec
    streams = ip.user_ns["streams"]
    try:
        assert streams is apps.get_app(app_id).streams
        view = status_view(apps.get_app(app_id))
        assert isinstance(view, StatusView)
        producer = confluent_kafka.Producer({"bootstrap.servers": streams.bootstrap_servers})
        for i in range(50):
            producer.produce(f"{app_id}-in", value=f'"v{i}"'.encode())
        producer.flush(10)
        assert wait_for(lambda: "<b>processed</b> 50 " in view.html.value), view.html.value
        assert "RUNNING" in view.html.value
        status = ip.run_line_magic("stream", "status")
        row = status[status["app"] == app_id].iloc[0]
        assert row["state"] == "RUNNING" and row["bootstrap.servers"] == streams.bootstrap_servers
    finally:
        ip.run_line_magic("stream", f"stop {app_id}")
    assert str(streams.state()).upper().endswith("NOT_RUNNING")
    updater = _updater.updater_for(apps.get_app(app_id))
    assert wait_for(lambda: not updater.running, 5.0)
    assert "NOT_RUNNING" in view.html.value
