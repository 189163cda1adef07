"""EmitStrategy.on_window_close() under the real runtime (noida-db broker): the last emitted
close time travels with the committed input offsets (Kafka's processor metadata), so a
second instance on a fresh state.dir neither emits a closed window again nor loses one."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer

from streamnb import EmitStrategy, KafkaStreams, Produced, StreamsBuilder, TopologyTestDriver
from streamnb.broker import ensure_topics
from streamnb.dsl.windows import TimeWindows

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests._kafka import consume, noida_broker, unique_name  # noqa: E402

SECOND = 1000
_NOW = int(time.time() * 1000)
BASE = _NOW - _NOW % (60 * SECOND) - 10 * 60 * SECOND  # recent, on a minute boundary
FIRST = [("a", 0), ("b", 3), ("a", 12), ("a", 14), ("b", 25), ("c", 27)]
AFTER = [("a", 31), ("b", 44), ("c", 52), ("a", 75), ("b", 90)]


def _app(source: str, sink: str):
    builder = StreamsBuilder()
    (builder.stream(source).group_by_key()
     .windowed_by(TimeWindows.of_size_and_grace(10 * SECOND, 2 * SECOND))
     .emit_strategy(EmitStrategy.on_window_close()).count()
     .to_stream().map(lambda wk, n: (f"{wk.key}@{(wk.window.start - BASE) // SECOND}", n))
     .to(sink, Produced.with_("string", "long")))
    return builder.build()


def _expected():
    config = {"default.key.serde": "string", "default.value.serde": "string"}
    with TopologyTestDriver(_app("in", "out"), config) as driver:
        topic = driver.create_input_topic("in")
        for key, seconds in FIRST + AFTER:
            topic.pipe_input(key, "x", BASE + seconds * SECOND)
        return driver.create_output_topic("out", value_serde="long").read_key_values_to_list()


def _config(broker, app_id, state_dir):
    return {"application.id": app_id, "bootstrap.servers": broker.bootstrap_servers,
            "state.dir": str(state_dir), "default.key.serde": "string",
            "default.value.serde": "string", "commit.interval.ms": 100,
            "session.timeout.ms": 6000, "heartbeat.interval.ms": 500}


def _produce(broker, topic, records):
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
    for key, seconds in records:
        producer.produce(topic, b"x", key.encode(), timestamp=BASE + seconds * SECOND)
    assert producer.flush(10) == 0


def _windows(broker, sink, n, timeout=30.0):
    return [(m.key().decode(), int.from_bytes(m.value(), "big", signed=True))
            for m in consume(broker, sink, n, timeout=timeout)]


@pytest.fixture(scope="module")
def kafka():
    with noida_broker() as broker:
        yield broker


def test_a_restarted_instance_neither_repeats_nor_loses_a_closed_window(kafka, tmp_path):
    source, sink = unique_name("in"), unique_name("out")
    ensure_topics(kafka.bootstrap_servers, {source: 1, sink: 1})
    app_id = unique_name("ec")
    expected = _expected()
    _produce(kafka, source, FIRST)
    first = KafkaStreams(_app(source, sink), _config(kafka, app_id, tmp_path / "a"))
    first.start()
    try:
        emitted = _windows(kafka, sink, 3)  # a@0, b@0, a@10 close at 25 s
        time.sleep(0.5)  # a commit after the last record carries the close time
    finally:
        assert first.close(10)
    assert emitted == expected[:3]
    _produce(kafka, source, AFTER)
    second = KafkaStreams(_app(source, sink), _config(kafka, app_id, tmp_path / "b"))
    second.start()
    try:
        got = _windows(kafka, sink, len(expected) + 3, timeout=6.0)  # wait for extra ones
    finally:
        second.close(10)
    assert got == expected
