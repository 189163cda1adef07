"""End-to-end word count on the embedded broker: streamnb at-least-once and exactly-once
beside a plain confluent-kafka consume-count-produce loop, in the same run.

    python bench/bench_e2e.py [--lines 100000] [--runs 1]

The seed workload (``--lines`` lines x 10 words from a seeded 5,000-word vocabulary) is
produced to a 3-partition input topic first; each system is then timed from its start to
the moment the last of its count updates (one per word) is visible in its output topic
(read_committed, so exactly-once output counts only once committed). Prints words/s, the
ratios, start() -> RUNNING, and CPU seconds (the stream thread's own, read from /proc, and
the whole benchmark process's while the app ran).
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import word_lines  # noqa: E402
from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402

from streamnb import KafkaStreams, Materialized, StreamsBuilder  # noqa: E402
from streamnb.broker import ensure_topics  # noqa: E402

PARTITIONS = 3


def wordcount_topology(input_topic: str, output_topic: str, on_line=None):
    """The seed word count, with topic names of this run. ``on_line()``, when given, is
    called for every input line (bench/run.py notes when the first record arrives)."""
    if on_line is None:
        def split(line):
            return line.lower().split()
    else:
        def split(line):
            on_line()
            return line.lower().split()
    builder = StreamsBuilder()
    (
        builder.stream(input_topic)
        .flat_map_values(split)
        .group_by(lambda _key, word: word)
        .count(materialized=Materialized.as_("counts-store"))
        .to_stream()
        .to(output_topic)
    )
    return builder.build()


def produce_lines(bootstrap: str, topic: str, lines: list[str]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20,
                         "queue.buffering.max.messages": 1_000_000})
    for line in lines:
        producer.produce(topic, line.encode())
    producer.flush(60)


class OutputWatcher(threading.Thread):
    """Counts records visible (read_committed) in ``topic``; notes when ``expected`` arrive."""

    def __init__(self, bootstrap: str, topic: str, expected: int) -> None:
        super().__init__(daemon=True)
        self.expected = expected
        self.done_at: float | None = None
        self.seen = 0
        self._halt = threading.Event()
        self._consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                                   "isolation.level": "read_committed",
                                   "enable.auto.commit": False})
        self._consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])

    def run(self) -> None:
        try:
            while not self._halt.is_set() and self.seen < self.expected:
                self.seen += len(self._consumer.consume(20_000, 0.2))
            if self.seen >= self.expected:
                self.done_at = time.perf_counter()
        finally:
            self._consumer.close()

    def stop(self) -> None:
        self._halt.set()


def thread_cpu_s(native_id: int | None) -> float:
    """CPU seconds (user + system) of one thread of this process, from /proc (Linux)."""
    if native_id is None:
        return float("nan")
    try:
        fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def make_streams(topology, bootstrap: str, state_dir: Path, guarantee: str, app_id: str,
                 **extra: str) -> KafkaStreams:
    """The benchmark's KafkaStreams: string serdes, the given guarantee."""
    return KafkaStreams(topology, {
        "application.id": app_id,
        "bootstrap.servers": bootstrap,
        "state.dir": str(state_dir),
        "processing.guarantee": guarantee,
        "default.key.serde": "string",
        "default.value.serde": "string",
        **extra,
    })


def run_streamnb(bootstrap: str, state_dir: Path, input_topic: str, words: int,
                 guarantee: str, timeout: float) -> tuple[float, float, float, float]:
    """Returns (seconds from start() to the last update visible, start() -> RUNNING,
    CPU seconds of the stream thread, CPU seconds of this whole process meanwhile)."""
    run = uuid.uuid4().hex[:8]
    output = f"bench-out-{guarantee}-{run}"
    ensure_topics(bootstrap, {output: PARTITIONS})
    streams = make_streams(wordcount_topology(input_topic, output), bootstrap, state_dir,
                           guarantee, f"bench-{guarantee.replace('_', '-')}-{run}")
    watcher = OutputWatcher(bootstrap, output, words)
    watcher.start()
    gc.collect()
    cpu0 = process_cpu_s()
    start = time.perf_counter()
    streams.start()
    watcher.join(timeout)
    cpu = process_cpu_s() - cpu0
    threads = getattr(streams, "_threads", [])
    thread_cpu = sum(thread_cpu_s(t.native_id) for t in threads) if threads else float("nan")
    watcher.stop()
    running = streams.running_after_s
    streams.close(30)
    if watcher.done_at is None:
        raise SystemExit(f"{guarantee}: only {watcher.seen:,} of {words:,} updates in "
                         f"{timeout:g} s")
    return watcher.done_at - start, running or float("nan"), thread_cpu, cpu


def plain_loop(bootstrap: str, input_topic: str, output: str, words: int, timeout: float,
               on_batch=None) -> int:
    """Consume lines, count words in a dict, produce each count; stop after ``words``
    updates (or ``timeout`` s). ``on_batch()`` is called for every non-empty batch."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5,
                         "queue.buffering.max.messages": 1_000_000,
                         "partitioner": "murmur2_random"})
    consumer.subscribe([input_topic])
    counts: dict[str, int] = {}
    produce = producer.produce
    produced = 0
    deadline = time.monotonic() + timeout
    while produced < words and time.monotonic() < deadline:
        msgs = consumer.consume(5000, 0.1)
        if msgs and on_batch is not None:
            on_batch()
        for msg in msgs:
            for word in msg.value().decode().lower().split():
                count = counts.get(word, 0) + 1
                counts[word] = count
                produce(output, count.to_bytes(8, "big"), word.encode())
                produced += 1
        producer.poll(0)
        if msgs:
            consumer.commit(asynchronous=True)
    producer.flush(60)
    consumer.close()
    return produced


def run_plain_loop(bootstrap: str, input_topic: str, words: int,
                   timeout: float) -> float:
    """A plain confluent-kafka loop: consume lines, count words in a dict, produce counts."""
    output = f"bench-out-plain-{uuid.uuid4().hex[:8]}"
    ensure_topics(bootstrap, {output: PARTITIONS})
    watcher = OutputWatcher(bootstrap, output, words)
    watcher.start()
    gc.collect()
    start = time.perf_counter()
    plain_loop(bootstrap, input_topic, output, words, timeout)
    watcher.join(timeout)
    watcher.stop()
    if watcher.done_at is None:
        raise SystemExit(f"plain loop: only {watcher.seen:,} of {words:,} updates")
    return watcher.done_at - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="end-to-end word count benchmark")
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)
    state_dir = Path(tempfile.mkdtemp(prefix="streamnb-bench-e2e-"))
    try:
        # Constructing a client without bootstrap.servers starts the embedded broker.
        probe = KafkaStreams(wordcount_topology("bench-probe-in", "bench-probe-out"),
                             {"application.id": "bench-probe", "state.dir": str(state_dir)})
        bootstrap = probe.bootstrap_servers
        kind = getattr(probe.broker, "kind", "?")
        lines = word_lines(args.lines)
        words = sum(len(line.split()) for line in lines)
        input_topic = f"bench-lines-{uuid.uuid4().hex[:8]}"
        ensure_topics(bootstrap, {input_topic: PARTITIONS})
        t0 = time.perf_counter()
        produce_lines(bootstrap, input_topic, lines)
        print(f"embedded broker: {kind} at {bootstrap}; produced {len(lines):,} lines "
              f"({words:,} words) in {time.perf_counter() - t0:.1f} s")
        rates: dict[str, list[float]] = {"plain confluent-kafka loop": [],
                                         "streamnb at_least_once": [],
                                         "streamnb exactly_once_v2": []}
        startup: dict[str, list[float]] = {"at_least_once": [], "exactly_once_v2": []}
        cpu: dict[str, list[tuple[float, float]]] = {"at_least_once": [], "exactly_once_v2": []}
        for _ in range(args.runs):
            rates["plain confluent-kafka loop"].append(
                words / run_plain_loop(bootstrap, input_topic, words, args.timeout))
            for guarantee in ("at_least_once", "exactly_once_v2"):
                elapsed, running, thread_cpu, proc_cpu = run_streamnb(
                    bootstrap, state_dir, input_topic, words, guarantee, args.timeout)
                rates[f"streamnb {guarantee}"].append(words / elapsed)
                startup[guarantee].append(running)
                cpu[guarantee].append((thread_cpu, proc_cpu))
        med = {name: statistics.median(r) for name, r in rates.items()}
        print(f"\nword count end to end, {args.lines:,} lines, {words:,} words in and "
              f"{words:,} updates out, {PARTITIONS} partitions, median of {args.runs}")
        print(f"{'system':<30}{'words/s':>12}{'min':>12}{'max':>12}")
        for name, r in rates.items():
            print(f"{name:<30}{med[name]:>12,.0f}{min(r):>12,.0f}{max(r):>12,.0f}")
        plain = med["plain confluent-kafka loop"]
        alos, eos = med["streamnb at_least_once"], med["streamnb exactly_once_v2"]
        print(f"\nat_least_once / plain loop   {alos / plain:6.2f}")
        print(f"exactly_once_v2 / plain loop {eos / plain:6.2f}")
        print(f"exactly_once_v2 / at_least_once {eos / alos:6.2f}")
        for guarantee, values in cpu.items():
            print(f"CPU ({guarantee}): stream thread "
                  f"{', '.join(f'{t:.2f} s' for t, _ in values)}; whole bench process "
                  f"(incl. librdkafka threads and the output watcher) "
                  f"{', '.join(f'{p:.2f} s' for _, p in values)}")
        for guarantee, values in startup.items():
            print(f"start() -> RUNNING ({guarantee}): "
                  f"{', '.join(f'{v:.2f} s' for v in values)}")
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
