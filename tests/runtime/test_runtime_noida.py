"""KafkaStreams end to end on a real Kafka-protocol broker (noida-db)."""

from __future__ import annotations

import struct
import time

import pytest
from confluent_kafka import Producer

from streamnb import KafkaStreams, Materialized, StreamsBuilder
from streamnb.broker import BrokerNotAvailableException, MissingSourceTopicException, ensure_topics
from streamnb.runtime import State
from tests._kafka import consume, unique_name, wait_for

SENTENCES = ["All Streams lead to Kafka", "Hello Kafka Streams", "Join Kafka Summit"]
EXPECTED = [("all", 1), ("streams", 1), ("lead", 1), ("to", 1), ("kafka", 1), ("hello", 1),
            ("kafka", 2), ("streams", 2), ("join", 1), ("kafka", 3), ("summit", 1)]


def wordcount(source: str, sink: str):
    builder = StreamsBuilder()
    (
        builder.stream(source)
        .flat_map_values(lambda line: line.lower().split())
        .group_by(lambda _key, word: word)
        .count(materialized=Materialized.as_("counts"))
        .to_stream()
        .to(sink)
    )
    return builder.build()


def config(broker, app_id, state_dir, **extra):
    conf = {
        "application.id": app_id,
        "bootstrap.servers": broker.bootstrap_servers,
        "state.dir": str(state_dir),
        "default.key.serde": "string",
        "default.value.serde": "string",
        "commit.interval.ms": 100,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
    }
    conf.update(extra)
    return conf


def produce(broker, topic, values, keys=None):
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
    for index, value in enumerate(values):
        key = None if keys is None else keys[index]
        producer.produce(topic, value if isinstance(value, bytes) else value.encode(), key)
    assert producer.flush(10) == 0


def updates(broker, topic, n, timeout=20.0):
    msgs = consume(broker, topic, n, timeout=timeout, isolation="read_committed")
    return [(m.key().decode(), struct.unpack(">q", m.value())[0]) for m in msgs]


def ordered_per_word(pairs):
    """Kafka orders per partition: compare the sequence of counts of each word."""
    out = {}
    for word, count in pairs:
        out.setdefault(word, []).append(count)
    return out


@pytest.fixture
def topics(kafka):
    source, sink = unique_name("in"), unique_name("out")
    ensure_topics(kafka.bootstrap_servers, {source: 2, sink: 2})
    return source, sink


def test_word_count_end_to_end_then_restart_restores_counts(kafka, topics, tmp_path):
    source, sink = topics
    app_id = unique_name("wc")
    produce(kafka, source, SENTENCES)
    streams = KafkaStreams(wordcount(source, sink), config(kafka, app_id, tmp_path / "a"))
    seen = []
    streams.set_state_listener(lambda new, old: seen.append((old, new)))
    assert streams.state() is State.CREATED
    started = time.monotonic()
    streams.start()
    assert time.monotonic() - started < 2.0  # start() returns at once
    got = updates(kafka, sink, 11)
    assert ordered_per_word(got) == ordered_per_word(EXPECTED)
    wait_for(lambda: streams.state() is State.RUNNING, what="RUNNING")
    frame = streams.to_pandas("counts")
    assert list(frame.columns[:2]) == ["key", "value"]
    assert dict(zip(frame["key"], frame["value"])) == {
        "all": 1, "streams": 2, "lead": 1, "to": 1, "kafka": 3, "hello": 1, "join": 1,
        "summit": 1}
    assert streams.store("counts").get("kafka") == 3
    metrics = streams.metrics()
    assert metrics["process-total"] == 3 + 11  # lines, then repartitioned words
    assert metrics["store-sizes"] == {"counts": 8}
    assert set(streams.metrics_df().columns) == {"group", "name", "tags", "value"}
    assert streams.close(10)
    assert streams.state() is State.NOT_RUNNING
    assert (State.CREATED, State.REBALANCING) in seen
    assert (State.REBALANCING, State.RUNNING) in seen
    assert seen[-1] == (State.PENDING_SHUTDOWN, State.NOT_RUNNING)

    # A new instance with an empty state dir rebuilds the counts from the changelog.
    produce(kafka, source, ["kafka streams"])
    again = KafkaStreams(wordcount(source, sink), config(kafka, app_id, tmp_path / "b"))
    again.start()
    try:
        got = updates(kafka, sink, 13)
        assert got[11:] and sorted(got[11:]) == [("kafka", 4), ("streams", 3)]
        assert again.metrics()["restore-total"] >= 8
    finally:
        again.close(10)


@pytest.mark.parametrize("lines", [3, 60])
def test_record_timestamps_and_headers_are_kept_end_to_end(kafka, tmp_path, lines):
    """Sinks and repartition topics carry each input record's timestamp and headers (the
    collector passes them to Producer.produce by position)."""
    source, copy, sink = unique_name("in"), unique_name("copy"), unique_name("out")
    ensure_topics(kafka.bootstrap_servers, {source: 1, copy: 1, sink: 1})
    base = int(time.time() * 1000) - 3_600_000  # in the past, within the topics' retention
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers})
    for i in range(lines):
        producer.produce(source, b"a b", timestamp=base + i, headers=[("h", str(i).encode())])
    assert producer.flush(10) == 0
    builder = StreamsBuilder()
    stream = builder.stream(source)
    stream.map_values(str.upper).to(copy)
    (stream.flat_map_values(str.split).group_by(lambda _key, word: word)
     .count().to_stream().to(sink))
    streams = KafkaStreams(builder.build(), config(kafka, unique_name("ts"), tmp_path))
    streams.start()
    try:
        copied = consume(kafka, copy, lines, timeout=20)
        counted = consume(kafka, sink, 2 * lines, timeout=20)
    finally:
        streams.close(10)
    assert [(m.value(), m.timestamp()[1], m.headers()) for m in copied] == [
        (b"A B", base + i, [("h", str(i).encode())]) for i in range(lines)]
    by_word = {}
    for m in counted:
        by_word.setdefault(m.key(), []).append(
            (struct.unpack(">q", m.value())[0], m.timestamp()[1], m.headers()))
    expected = [(i + 1, base + i, [("h", str(i).encode())]) for i in range(lines)]
    assert by_word == {b"a": expected, b"b": expected}


def test_poison_pill_log_and_continue_skips_and_counts(kafka, tmp_path):
    source, sink = unique_name("in"), unique_name("out")
    ensure_topics(kafka.bootstrap_servers, {source: 1, sink: 1})
    builder = StreamsBuilder()
    builder.stream(source).map_values(lambda v: v["n"] * 10).to(sink)
    produce(kafka, source, [b'{"n": 1}', b"\xff not json", b'{"n": 2}'])
    streams = KafkaStreams(builder.build(), config(
        kafka, unique_name("pill"), tmp_path, **{
            "default.key.serde": "json", "default.value.serde": "json",
            "default.deserialization.exception.handler": "logAndContinue"}))
    streams.start()
    try:
        got = consume(kafka, sink, 2, timeout=20)
        assert [m.value() for m in got] == [b"10", b"20"]
        wait_for(lambda: streams.metrics()["deserialization-errors-total"] == 1,
                 what="the error metric")
        assert streams.state() is State.RUNNING
    finally:
        streams.close(10)


def test_poison_pill_log_and_fail_stops_the_client(kafka, tmp_path):
    source, sink = unique_name("in"), unique_name("out")
    ensure_topics(kafka.bootstrap_servers, {source: 1, sink: 1})
    builder = StreamsBuilder()
    builder.stream(source).to(sink)
    produce(kafka, source, [b"\xff not json"])
    streams = KafkaStreams(builder.build(), config(
        kafka, unique_name("pill"), tmp_path, **{"default.value.serde": "json"}))
    errors = []
    streams.set_uncaught_exception_handler(lambda exc: errors.append(exc) or None)
    streams.start()
    wait_for(lambda: streams.state() is State.ERROR, what="ERROR")
    assert "cannot deserialize the record" in str(errors[0])
    assert "logAndContinue" in str(errors[0])
    assert streams.close(5)


def test_missing_source_topic_on_an_external_cluster(kafka, tmp_path):
    missing = unique_name("nope")
    streams = KafkaStreams(wordcount(missing, "whatever"),
                           config(kafka, unique_name("wc"), tmp_path))
    with pytest.raises(MissingSourceTopicException, match=missing):
        streams.start()
    assert streams.state() is State.ERROR


def test_unreachable_broker_names_the_address(tmp_path):
    streams = KafkaStreams(wordcount("a", "b"), {
        "application.id": "x", "bootstrap.servers": "127.0.0.1:9", "state.dir": str(tmp_path)})
    with pytest.raises(BrokerNotAvailableException, match="127.0.0.1:9"):
        streams.start()
