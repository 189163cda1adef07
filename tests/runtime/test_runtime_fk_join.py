"""Foreign-key table join on a real broker, with tables that are NOT co-partitioned: the
left table on 2 partitions, the right one on 3. Subscriptions and answers travel through the
join's two internal topics, as in Kafka Streams."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, Producer

from streamnb import KafkaStreams, Materialized, StreamsBuilder
from streamnb.broker import describe_partitions, ensure_topics
from streamnb.dsl._fk_wrappers import SubscriptionResponseWrapper, SubscriptionResponseWrapperSerde
from streamnb.dsl._murmur3 import hash128
from streamnb.engine.task import internal_topic
from streamnb.query.murmur2 import partition_for
from streamnb.runtime import State
from streamnb.serde import Serdes
from tests._kafka import unique_name

LEFT_KEYS = ["a", "b", "c", "d"]


def _producer(kafka):
    # Java clients partition keyed records by murmur2; the join's subscription sink does too.
    return Producer({"bootstrap.servers": kafka.bootstrap_servers,
                     "partitioner": "murmur2_random"})


def _send(producer, topic, key, value, partition=None):
    extra = {} if partition is None else {"partition": partition}
    producer.produce(topic, None if value is None else value.encode() if isinstance(
        value, str) else value, key.encode(), **extra)
    assert producer.flush(10) == 0


class _Output:
    """Every record of the output topic so far, in order."""

    def __init__(self, kafka, topic):
        self.consumer = Consumer({"bootstrap.servers": kafka.bootstrap_servers,
                                  "group.id": unique_name("g"), "auto.offset.reset": "earliest",
                                  "enable.auto.commit": False})
        self.consumer.subscribe([topic])
        self.records: list[tuple[str, str | None]] = []

    def until(self, expected, timeout=30.0):
        """Read until the records end with ``expected`` (new ones); return those new ones."""
        start = len(self.records)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.consumer.poll(0.1)
            if msg is not None and msg.error() is None:
                value = msg.value()
                self.records.append((msg.key().decode(),
                                     None if value is None else value.decode()))
            new = self.records[start:]
            if len(new) >= len(expected) and sorted(new, key=repr) == sorted(expected,
                                                                                key=repr):
                return new
        raise AssertionError(f"expected {expected}, got {self.records[start:]}")

    def close(self):
        self.consumer.close()


def _wait_loaded(streams, right_key):
    """Until the right table (store "rhs") holds ``right_key``: results are then exact."""
    deadline = time.monotonic() + 30
    while streams.state() is not State.RUNNING or streams.store("rhs").get(right_key) is None:
        assert time.monotonic() < deadline, "the right table was not loaded"
        time.sleep(0.05)


def _app(left, right, out):
    builder = StreamsBuilder()
    lhs = builder.table(left)
    rhs = builder.table(right, materialized=Materialized.as_("rhs"))
    (lhs.join(rhs, lambda v: v.split("|")[1], lambda lv, rv: f"({lv},{rv})",
              materialized=Materialized.as_("fk-result"))
     .to_stream().to(out))
    return builder.build()


def test_fk_join_across_differently_partitioned_tables(kafka, tmp_path):
    left, right, out = unique_name("lhs"), unique_name("rhs"), unique_name("out")
    ensure_topics(kafka.bootstrap_servers, {left: 2, right: 3, out: 1})
    # The left rows live on both partitions, so answers must find their way back.
    assert {partition_for(k.encode(), 2) for k in LEFT_KEYS} == {0, 1}
    app_id = unique_name("fk")
    topology = _app(left, right, out)
    registration, response = sorted(topology.internal_topics)
    assert "REGISTRATION" in registration and "RESPONSE" in response
    producer = _producer(kafka)
    for key, value in [("r1", "one"), ("r2", "two"), ("r3", "three")]:
        _send(producer, right, key, value)
    config = {
        "application.id": app_id, "bootstrap.servers": kafka.bootstrap_servers,
        "state.dir": str(tmp_path / "first"), "default.key.serde": "string",
        "default.value.serde": "string", "commit.interval.ms": 100,
        "session.timeout.ms": 6000, "heartbeat.interval.ms": 500}
    streams = KafkaStreams(topology, config)
    output = _Output(kafka, out)
    streams.start()
    try:
        _wait_loaded(streams, "r3")
        counts = describe_partitions(kafka.bootstrap_servers, [
            internal_topic(app_id, registration), internal_topic(app_id, response)])
        # Registration follows the right table's partitions, responses the left table's.
        assert counts == {internal_topic(app_id, registration): 3,
                          internal_topic(app_id, response): 2}

        for key, value in [("a", "A|r1"), ("b", "B|r2"), ("c", "C|r3"), ("d", "D|r9")]:
            _send(producer, left, key, value)
        output.until([("a", "(A|r1,one)"), ("b", "(B|r2,two)"), ("c", "(C|r3,three)")])

        # Foreign-key change: the row follows the new right row; the old one lets go.
        _send(producer, left, "a", "A2|r2")
        output.until([("a", "(A2|r2,two)")])
        _send(producer, right, "r1", "uno")  # nobody subscribes to r1 any more
        _send(producer, right, "r3", None)  # right-side delete: inner join -> tombstone
        output.until([("c", None)])

        _send(producer, left, "b", None)  # left delete -> tombstone
        output.until([("b", None)])
        _send(producer, right, "r2", "deux")  # only a (b is gone) subscribes to r2 now
        output.until([("a", "(A2|r2,deux)")])

        # A stale answer (computed for a's previous value) is dropped by the left side.
        serde = SubscriptionResponseWrapperSerde(Serdes.String())
        stale = serde.serialize(None, SubscriptionResponseWrapper(
            hash128(b"A|r1"), "STALE", None))
        _send(producer, internal_topic(app_id, response), "a", stale,
              partition=partition_for(b"a", 2))
        # The next answer for a comes through the same partition, after the stale one.
        _send(producer, right, "r2", "drei")
        output.until([("a", "(A2|r2,drei)")])
        assert all("STALE" not in (value or "") for _key, value in output.records)
        _send(producer, right, "r9", "nine")  # d's right row appears: the inner join emits
        output.until([("d", "(D|r9,nine)")])
        result = streams.store("fk-result")
        assert {k: result.get(k) for k in LEFT_KEYS} == {
            "a": "(A2|r2,drei)", "b": None, "c": None, "d": "(D|r9,nine)"}
        assert streams.close(10)

        # A new instance with empty state restores the subscriptions from their changelog:
        # a right-side update still reaches the left rows subscribed before.
        streams = KafkaStreams(_app(left, right, out), {**config,
                                                        "state.dir": str(tmp_path / "second")})
        streams.start()
        _send(producer, right, "r2", "zwei")
        output.until([("a", "(A2|r2,zwei)")])
    finally:
        output.close()
        assert streams.close(10)


def test_fk_left_join_with_null_foreign_keys(kafka, tmp_path):
    left, right, out = unique_name("lhs"), unique_name("rhs"), unique_name("out")
    ensure_topics(kafka.bootstrap_servers, {left: 2, right: 3, out: 1})
    builder = StreamsBuilder()
    rhs = builder.table(right, materialized=Materialized.as_("rhs"))
    (builder.table(left)
     .left_join(rhs, lambda v: v.split("|")[1] or None,
                lambda lv, rv: f"({lv},{'null' if rv is None else rv})")
     .to_stream().to(out))
    producer = _producer(kafka)
    _send(producer, right, "r1", "one")
    streams = KafkaStreams(builder.build(), {
        "application.id": unique_name("fkl"), "bootstrap.servers": kafka.bootstrap_servers,
        "state.dir": str(tmp_path), "default.key.serde": "string",
        "default.value.serde": "string", "commit.interval.ms": 100,
        "session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
    output = _Output(kafka, out)
    streams.start()
    try:
        _wait_loaded(streams, "r1")
        _send(producer, left, "y", "Y|")  # a null foreign key still joins (with null)
        output.until([("y", "(Y|,null)")])
        _send(producer, left, "x", "X|r1")
        output.until([("x", "(X|r1,one)")])
        # Dropping the foreign key: Kafka answers the unsubscription and the null key.
        _send(producer, left, "x", "X|")
        output.until([("x", "(X|,null)"), ("x", "(X|,null)")])
    finally:
        output.close()
        assert streams.close(10)
