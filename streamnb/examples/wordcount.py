"""The word count of Kafka Streams' introduction, run end to end.

``python -m streamnb.examples.wordcount`` starts the topology on the embedded broker,
produces the seed article's three sentences, prints every count update as it arrives on
the output topic, then streams generated text for a few seconds and prints the running
top words. ``--driver`` runs the same topology through the TopologyTestDriver instead.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import Counter

from streamnb import Materialized, StreamsBuilder, Topology, TopologyTestDriver

INPUT_TOPIC = "streams-plaintext-input"
OUTPUT_TOPIC = "streams-wordcount-output"
SENTENCES = ["All Streams lead to Kafka", "Hello Kafka Streams", "Join Kafka Summit"]
VOCABULARY = [
    "stream", "table", "window", "join", "state", "kafka", "python", "notebook", "record",
    "topic", "partition", "task", "store", "event", "time", "grace", "session", "key", "value",
]


def build_topology() -> Topology:
    """Lines in, one ``(word, count)`` update per word out."""
    builder = StreamsBuilder()
    lines = builder.stream(INPUT_TOPIC)
    (
        lines.flat_map_values(lambda line: line.lower().split())
        .group_by(lambda _key, word: word)
        .count(materialized=Materialized.as_("counts-store"))
        .to_stream()
        .to(OUTPUT_TOPIC)
    )
    return builder.build()


def run_with_test_driver(lines: list[str]) -> list[tuple[str, int]]:
    """Run the word count synchronously, printing each update; return them."""
    updates = []
    with TopologyTestDriver(build_topology()) as driver:
        source = driver.create_input_topic(INPUT_TOPIC)
        sink = driver.create_output_topic(OUTPUT_TOPIC)
        for line in lines:
            source.pipe_input(None, line)
            for word, count in sink.read_key_values_to_list():
                print(f"{word}\t{count}", flush=True)
                updates.append((word, count))
    return updates


def run_live(lines: list[str], seconds: float, seed: int = 42) -> list[tuple[str, int]]:
    """Run on the embedded broker: produce ``lines``, print each update as it arrives, then
    stream generated text for ``seconds`` printing the top words once a second."""
    from streamnb import KafkaStreams
    from streamnb.runtime.clients import TopicTail, produce

    state_dir = tempfile.mkdtemp(prefix="streamnb-wordcount-")
    streams = KafkaStreams(build_topology(), {
        "application.id": "wordcount", "state.dir": state_dir, "commit.interval.ms": 100,
    })
    updates: list[tuple[str, int]] = []
    try:
        streams.start()
        _wait_running(streams)
        # count() makes a KTable of Long counts, and to() writes them with that serde.
        tail = TopicTail(streams, OUTPUT_TOPIC, from_beginning=True, value_serde="long")
        print(f"word count running on the embedded broker at {streams.bootstrap_servers}",
              flush=True)
        produce(streams, INPUT_TOPIC, lines)
        expected = sum(len(line.split()) for line in lines)
        deadline = time.monotonic() + 30
        while len(updates) < expected and time.monotonic() < deadline:
            for record in tail.poll(0.2):
                print(f"{record.key}\t{record.value}", flush=True)
                updates.append((record.key, record.value))
        if seconds > 0:
            _stream_generated(streams, tail, seconds, seed)
        tail.close()
    finally:
        streams.close(timeout=10)
    return updates


def _wait_running(streams, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while streams.state().name != "RUNNING":
        if streams.state().name in ("ERROR", "NOT_RUNNING") or time.monotonic() > deadline:
            raise RuntimeError(f"the word count did not start: state {streams.state().name}")
        time.sleep(0.05)


def _stream_generated(streams, tail, seconds: float, seed: int) -> None:
    from streamnb.runtime.clients import TopicProducer

    rng = random.Random(seed)
    latest: dict[str, int] = {}
    updates = 0
    with TopicProducer(streams) as producer:
        end = time.monotonic() + seconds
        next_report = time.monotonic() + 1
        while time.monotonic() < end:
            batch = [" ".join(rng.choices(VOCABULARY, k=8)) for _ in range(200)]
            producer.send(INPUT_TOPIC, batch)
            producer.flush()
            for record in tail.poll(0.05, 10_000):
                latest[record.key] = record.value
                updates += 1
            if time.monotonic() >= next_report:
                top = Counter(latest).most_common(5)
                print(f"{updates:>8,} updates   top: "
                      + "  ".join(f"{word}={count}" for word, count in top), flush=True)
                next_report += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--driver", action="store_true",
                        help="run through the TopologyTestDriver (no broker)")
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="seconds of generated text after the three sentences (live mode)")
    parser.add_argument("--describe", action="store_true", help="print the topology first")
    args = parser.parse_args(argv)
    if args.describe:
        print(build_topology().describe())
    if args.driver:
        run_with_test_driver(SENTENCES)
    else:
        run_live(SENTENCES, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
