"""The word count on the embedded default broker (no bootstrap.servers)."""

from __future__ import annotations

import struct

from confluent_kafka import Producer

from streamnb import KafkaStreams, Materialized, StreamsBuilder
from streamnb.broker import embedded, stop_embedded_broker
from streamnb.runtime import State
from tests._kafka import consume

SENTENCES = ["All Streams lead to Kafka", "Hello Kafka Streams", "Join Kafka Summit"]


def test_word_count_on_the_embedded_broker(monkeypatch, tmp_path):
    monkeypatch.setenv(embedded.ENV_VAR, "noida")
    stop_embedded_broker()
    builder = StreamsBuilder()
    (
        builder.stream("streams-plaintext-input")
        .flat_map_values(lambda line: line.lower().split())
        .group_by(lambda _key, word: word)
        .count(materialized=Materialized.as_("counts-store"))
        .to_stream()
        .to("streams-wordcount-output")
    )
    try:
        streams = KafkaStreams(builder.build(), {
            "application.id": "wordcount-embedded",
            "state.dir": str(tmp_path),
            "default.key.serde": "string",
            "default.value.serde": "string",
            "commit.interval.ms": 100,
        })
        # Valid from construction: produce before start().
        producer = Producer({"bootstrap.servers": streams.bootstrap_servers})
        for line in SENTENCES:
            producer.produce("streams-plaintext-input", line.encode())
        streams.start()  # creates the missing topics on the embedded broker
        producer.flush(10)
        msgs = consume(streams.bootstrap_servers, "streams-wordcount-output", 11, timeout=20)
        got = [(m.key().decode(), struct.unpack(">q", m.value())[0]) for m in msgs]
        assert len(got) == 11
        assert max(c for w, c in got if w == "kafka") == 3
        assert dict(got)["streams"] == 2
        assert streams.close(10) and streams.state() is State.NOT_RUNNING
        assert (tmp_path / "_broker").is_dir()  # the broker keeps its data under state.dir
    finally:
        stop_embedded_broker()
