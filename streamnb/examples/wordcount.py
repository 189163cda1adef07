"""The word count of Kafka Streams' introduction, run end to end.

``python -m streamnb.examples.wordcount`` builds the topology, pipes the three sentences of
the seed article through it and prints every count update as it happens.
"""

from __future__ import annotations

import argparse
import sys

from streamnb import Materialized, StreamsBuilder, Topology, TopologyTestDriver

INPUT_TOPIC = "streams-plaintext-input"
OUTPUT_TOPIC = "streams-wordcount-output"
SENTENCES = ["All Streams lead to Kafka", "Hello Kafka Streams", "Join Kafka Summit"]


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--describe", action="store_true", help="print the topology first")
    args = parser.parse_args(argv)
    if args.describe:
        print(build_topology().describe())
    run_with_test_driver(SENTENCES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
