"""Pieces of streamnb.query on their own: murmur2, bounds, parameters, logs, metrics text."""

from __future__ import annotations

import io
import json
import logging

import pytest

from streamnb import StreamsBuilder, TopologyTestDriver
from streamnb.query.metadata import HostInfo
from streamnb.query.murmur2 import murmur2, partition_for
from streamnb.query.params import ApiError, parse_key
from streamnb.query.position import Position, PositionBound, is_permitted


def test_murmur2_matches_kafka_utils_test_vectors():
    # Expected values from Kafka's UtilsTest.testMurmur2.
    cases = {b"21": -973932308, b"foobar": -790332482,
             b"a-little-bit-long-string": -985981536,
             b"a-little-bit-longer-string": -1486304829,
             b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
             bytes([ord("a"), ord("b"), ord("c")]): 479470107}
    for data, expected in cases.items():
        assert murmur2(data) == expected
    assert 0 <= partition_for(b"foobar", 7) < 7
    with pytest.raises(ValueError):
        partition_for(b"x", 0)


def test_position_bound_rules_follow_kafka():
    seen = Position({"t": {0: 5}})
    assert is_permitted(seen, PositionBound.unbounded(), 0)
    assert is_permitted(seen, PositionBound.at({"t": {0: 5}}), 0)
    assert not is_permitted(seen, PositionBound.at({"t": {0: 6}}), 0)
    assert not is_permitted(seen, PositionBound.at({"u": {0: 0}}), 0)  # never seen
    assert is_permitted(seen, PositionBound.at({"t": {1: 99}}), 0)  # other partition
    merged = Position({"t": {0: 3, 1: 9}}).merge(seen)
    assert merged.to_dict() == {"t": {0: 5, 1: 9}}
    assert Position.from_map({"t": {"2": "7"}}).to_json() == {"t": {"2": 7}}
    with pytest.raises(TypeError):
        Position.from_map({"t": [1, 2]})


def test_key_parsing_and_host_info():
    assert parse_key("42", "int") == 42
    assert parse_key("word", "auto") == "word"
    assert parse_key("[1, \"a\"]", "auto") == (1, "a")
    assert parse_key("42", "string") == "42"
    for text, kind in (("x", "int"), ("nan", "float"), ("{", "json"), ("{}", "json")):
        with pytest.raises(ApiError) as info:
            parse_key(text, kind)
        assert info.value.status == 400
    assert HostInfo.parse("[::1]:8080") == HostInfo("::1", 8080)
    assert HostInfo.parse("[::1]:8080").url == "http://[::1]:8080"
    with pytest.raises(ValueError):
        HostInfo.parse("nohost")


def test_json_logs_carry_task_and_record_of_a_failure():
    from streamnb.query.logging import configure_logging

    b = StreamsBuilder()
    b.stream("in").map_values(lambda v: 1 // v).to("out")
    stream = io.StringIO()
    handler = configure_logging(json_lines=True, stream=stream, logger="streamnb.test-iq")
    log = logging.getLogger("streamnb.test-iq")
    try:
        with TopologyTestDriver(b.build(), {"application.id": "logs"}) as driver:
            inp = driver.create_input_topic("in")
            inp.pipe_input("a", 1)
            with pytest.raises(ZeroDivisionError):
                inp.pipe_input("b", 0)
            try:
                inp.pipe_input("c", 0)
            except ZeroDivisionError as exc:
                log.error("processing failed", exc_info=exc)
            log.info("plain message")
    finally:
        log.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    error = lines[0]
    assert error["level"] == "ERROR" and error["message"] == "processing failed"
    assert (error["app_id"], error["task_id"], error["topic"], error["partition"],
            error["offset"]) == ("logs", "0_0", "in", 0, 2)
    assert "ZeroDivisionError" in error["exception"]
    assert lines[1]["message"] == "plain message" and "topic" not in lines[1]
    assert lines[1]["thread"]


def test_prometheus_text_parses_with_escaped_labels():
    from prometheus_client.parser import text_string_to_metric_families

    from streamnb.query.prometheus import _Families

    fam = _Families()
    fam.add("kafka_streams_x_total", {"reason": 'a "quoted"\nline\\'}, 3)
    fam.add("kafka_streams_y", {}, 0.25)
    fam.add("kafka_streams_y", {}, "not a number")
    parsed = {f.name: f for f in text_string_to_metric_families(fam.render())}
    assert parsed["kafka_streams_x"].samples[0].labels["reason"] == 'a "quoted"\nline\\'
    assert parsed["kafka_streams_y"].samples[0].value == 0.25


def test_grafana_dashboard_uses_exported_metric_names():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    dashboard = json.loads((root / "docs/observability/grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    names = {n for e in exprs for n in re.findall(r"\b(kafka_[a-z_]+)\{", e)}
    source = (root / "streamnb/query/prometheus.py").read_text()
    groups = ("stream_metrics", "stream_thread_metrics", "stream_task_metrics",
              "stream_state_metrics", "consumer_fetch_manager_metrics")
    assert names and all(any(g in n for g in groups) for n in names)
    thread_metrics = {n.split("stream_thread_metrics_")[1] for n in names
                      if "stream_thread_metrics_" in n}
    from streamnb.runtime.metrics import ThreadMetrics

    exported = {k.replace("-", "_") for k in ThreadMetrics("t").snapshot()}
    assert thread_metrics <= exported, thread_metrics - exported
    assert "num-entries" in source
