"""A suppression buffer restored by the real runtime (noida-db broker, fresh state.dir):
keys buffered when the first instance stopped are emitted by the second one with the old
value downstream had seen, so a downstream sum with a subtractor ends where a run that
never stopped ends (the TopologyTestDriver's run of the same records)."""

from __future__ import annotations

import struct
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer

from streamnb import KafkaStreams, StreamsBuilder, Suppressed, TopologyTestDriver
from streamnb.broker import ensure_topics
from streamnb.dsl.suppress import BufferConfig

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests._kafka import consume, noida_broker, unique_name  # noqa: E402

SECOND = 1000
BASE = int(time.time() * 1000) - 10 * 60 * SECOND  # recent: the broker keeps records by time
# (key, value, seconds): "a" is emitted once, then buffered twice (old 10, prior 6) when the
# first instance stops; the second instance emits it with old value 6.
FIRST = [("a", 1, 0), ("a", 2, 1), ("b", 5, 2), ("a", 3, 15), ("c", 7, 16), ("a", 4, 17),
         ("b", 1, 18), ("a", 5, 20)]
AFTER = [("d", 10, 30), ("c", 1, 31), ("b", 2, 45), ("a", 1, 60)]


def _app(sink: str, source: str = "in"):
    builder = StreamsBuilder()
    sums = builder.stream(source).group_by_key().reduce(lambda a, b: a + b)
    suppressed = sums.suppress(
        Suppressed.until_time_limit(10 * SECOND, BufferConfig.unbounded()).with_name("sup"))
    suppressed.group_by(lambda k, v: ("all", v)).aggregate(
        lambda: 0, lambda k, v, agg: agg + v, lambda k, v, agg: agg - v
    ).to_stream().to(sink)
    return builder.build()


def _expected_totals() -> list[int]:
    config = {"default.key.serde": "string", "default.value.serde": "long"}
    with TopologyTestDriver(_app("out"), config) as driver:
        topic = driver.create_input_topic("in")
        for key, value, seconds in FIRST + AFTER:
            topic.pipe_input(key, value, BASE + seconds * SECOND)
        return driver.create_output_topic("out").read_values_to_list()


def _config(broker, app_id, state_dir):
    return {"application.id": app_id, "bootstrap.servers": broker.bootstrap_servers,
            "state.dir": str(state_dir), "default.key.serde": "string",
            "default.value.serde": "long", "commit.interval.ms": 100,
            "cache.max.bytes.buffering": 0,
            "session.timeout.ms": 6000, "heartbeat.interval.ms": 500}


def _produce(broker, topic, records):
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
    for key, value, seconds in records:
        producer.produce(topic, struct.pack(">q", value), key.encode(),
                         timestamp=BASE + seconds * SECOND)
    assert producer.flush(10) == 0


def _totals(broker, sink, n):
    return [struct.unpack(">q", m.value())[0]
            for m in consume(broker, sink, n, timeout=30.0) if m.value() is not None]


@pytest.fixture(scope="module")
def kafka():
    with noida_broker() as broker:
        yield broker


def test_buffered_keys_come_back_with_their_prior_values(kafka, tmp_path):
    source, sink = unique_name("in"), unique_name("out")
    ensure_topics(kafka.bootstrap_servers, {source: 1, sink: 1})
    app_id = unique_name("sr")
    _produce(kafka, source, FIRST)
    first = KafkaStreams(_app(sink, source), _config(kafka, app_id, tmp_path / "a"))
    first.start()
    try:
        # a (6) and b (5) are emitted at 15 s: two adds, the second gives 11
        assert _totals(kafka, sink, 2)[-1] == 11
        time.sleep(0.5)  # a commit after the last records: the buffer is in the changelog
    finally:
        assert first.close(10)

    _produce(kafka, source, AFTER)
    second = KafkaStreams(_app(sink, source), _config(kafka, app_id, tmp_path / "b"))
    second.start()
    expected = _expected_totals()
    try:
        totals = _totals(kafka, sink, len(expected))
        restored = second.metrics()["restore-total"]
    finally:
        second.close(10)
    assert totals == expected  # every (new, old) emission, as in the uninterrupted run
    assert restored >= 1
