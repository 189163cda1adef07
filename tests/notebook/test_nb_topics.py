"""%stream produce / tail and the live tail table, on the embedded broker and a running app."""

from __future__ import annotations

import threading
import time
import uuid

import pandas as pd
import pytest

from streamnb.notebook import apps
from streamnb.notebook.magics import StreamUsageError
from streamnb.notebook.topics import stop_all_tails, tail_frame, tail_table

pytest.importorskip("confluent_kafka")


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.fixture()
def tails():
    yield
    stop_all_tails()


def test_produce_values_and_frames_then_tail(ip, capsys):
    topic = f"nbt-{uuid.uuid4().hex[:8]}"
    ip.run_line_magic("stream", f"produce {topic} 'hello kafka' streams --key=k")
    assert f"produced 2 records to '{topic}' on the embedded broker" in capsys.readouterr().out
    ip.user_ns["df"] = pd.DataFrame({"key": ["a", "b"], "value": [1, 2]})
    ip.run_line_magic("stream", f"produce {topic} --from=df")
    ip.run_line_magic("stream", f"""produce {topic} --from="[('z', {{'n': 3}})]" """)
    frame = ip.run_line_magic("stream", f"tail {topic} --rows=3")  # no kernel: a DataFrame
    assert frame[["key", "value"]].values.tolist() == [["a", 1], ["b", 2], ["z", {"n": 3}]]
    everything = tail_frame(None, topic)
    assert everything["value"].tolist()[:2] == ["hello kafka", "streams"]
    assert everything["key"].tolist()[:2] == ["k", "k"]


@pytest.mark.parametrize("line, match", [
    ("produce", "usage: %stream produce TOPIC"),
    ("produce t", "nothing to produce"),
    ("produce t a --from=x", "not both"),
    ("produce t a --app=x --bootstrap=h:1", "not both"),
    ("produce t a --colour=red", "does not know --colour"),
    ("tail", "usage: %stream tail TOPIC"),
    ("tail t --rows=0", "--rows must be a positive number"),
])
def test_usage_errors(ip, line, match):
    with pytest.raises(StreamUsageError, match=match):
        ip.run_line_magic("stream", line)


def test_produce_into_a_running_app_and_tail_its_output(ip, tmp_path, tails):
    app_id = f"nbp-{uuid.uuid4().hex[:8]}"
    source = (f"%%stream {app_id}\nbuilder.stream('{app_id}-in').map_values(str.upper)"
              f".to('{app_id}-out')\n")
    assert ip.run_cell(source, cell_id="p-1").success
    result = ip.run_cell(f"streams = %stream start {app_id} --state.dir={tmp_path} "
                         "--default.value.serde=string", cell_id="p-2")
    assert result.success, result.error_in_exec
    try:
        table = tail_table(app_id, f"{app_id}-out", rows=3, start="end")
        senders: set[str] = set()
        table.table.observe(lambda _c: senders.add(threading.current_thread().name), "value")
        # The only app of the kernel is the default target, with its string serde.
        ip.run_line_magic("stream", f"produce {app_id}-in one two three four")
        assert wait_for(lambda: table.seen == 4), table.header.value
        assert wait_for(lambda: "&#x27;FOUR&#x27;" in table.table.value), table.table.value
        shown = table.frame()
        assert shown["value"].tolist() == ["TWO", "THREE", "FOUR"]  # the newest 3
        assert table.table.value.index("FOUR") < table.table.value.index("TWO")  # newest first
        assert senders == {f"streamnb-tail-{app_id}-out"}
        assert "records seen</b> 4" in table.header.value
        table.stop()
        assert not table.running and "stopped" in table.header.value
    finally:
        ip.run_line_magic("stream", f"stop {app_id}")
    assert apps.get_app(app_id).streams is not None


def test_tail_table_updates_are_throttled(ip, tails):
    topic = f"nbq-{uuid.uuid4().hex[:8]}"
    ip.run_line_magic("stream", f"produce {topic} first")
    table = tail_table(None, topic, rows=5)  # start='last': shows `first` at once
    assert wait_for(lambda: "first" in table.table.value)
    from streamnb.runtime.clients import TopicProducer

    producer = TopicProducer(None)
    started = time.monotonic()
    before = table.updates
    for i in range(30):  # a record every 50 ms for 1.5 s
        producer.send(topic, [f"v{i}"])
        time.sleep(0.05)
    producer.flush()
    assert wait_for(lambda: table.seen == 31)
    elapsed = time.monotonic() - started
    assert 1 <= table.updates - before <= 4 * elapsed + 2


def test_tail_of_missing_topic_fails_in_the_cell(ip):
    with pytest.raises(Exception, match="does not exist"):
        tail_table(None, f"nope-{uuid.uuid4().hex[:8]}")
