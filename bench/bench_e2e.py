"""End-to-end word count on the embedded broker: streamnb at-least-once and exactly-once
beside a plain confluent-kafka consume-count-produce loop, in the same run.

    python bench/bench_e2e.py [--lines 100000] [--runs 3]

The seed workload (``--lines`` lines x 10 words from a seeded 5,000-word vocabulary) is
produced to a 3-partition input topic first; each system is then timed from its start until
its work is durable, then its output is checked.

How "done" is detected, cheaply: no consumer reads the output while the clock runs (a real
user's consumer lives elsewhere; one in this process would compete with the app for the
GIL and the 2 cores). The main thread polls the broker every ~20 ms instead:

- exactly_once_v2: until the app's consumer group has committed offsets at the end offsets
  of the input topic and then of each repartition topic (their ends read once the input is
  fully committed, since only then do they stop growing). Offsets commit atomically with
  the transaction that holds the output, so that moment is when the last update became
  visible to read_committed readers. (The runtime commits the consumer position, as Kafka
  Streams does, so commit markers at the end of a partition count as consumed.)
- at_least_once and the plain loop: until the high watermarks of the output topic sum to
  the expected number of updates: every update is then acknowledged by the broker and
  readable. (Committed offsets would not do here: at-least-once commits every 30 s.)

After the clock stops, the output is read in full (read_committed) and verified: for every
word the updates must be the counts 1..n with n its number of occurrences; exactly-once
must hold each exactly once, at-least-once may repeat some but lose none. A run that fails
this check fails the benchmark. Prints words/s, the ratios, start() -> RUNNING, and CPU
seconds (the stream thread's own, read from /proc, and the whole benchmark process's while
the app ran, including librdkafka's threads).
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
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402

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


POLL_S = 0.02  # how often the main thread asks the broker whether a run is done


def end_offsets(consumer: Consumer, topics: list[str]) -> dict[tuple[str, int], int]:
    """High watermarks (``read_committed`` consumers: last stable offsets) of every
    partition of ``topics``, fresh from the broker."""
    out = {}
    for topic in topics:
        for partition in consumer.list_topics(topic, 10).topics[topic].partitions:
            _low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), 10,
                                                        cached=False)
            out[(topic, partition)] = high
    return out


def committed_reach(probe: Consumer, ends: dict[tuple[str, int], int]) -> bool:
    """Whether the probe's group has committed offsets at or past ``ends`` everywhere."""
    tps = [TopicPartition(topic, partition) for topic, partition in ends]
    return all(tp.offset >= ends[(tp.topic, tp.partition)] for tp in probe.committed(tps, 10))


def wait_committed(bootstrap: str, group: str, input_topic: str, internal: list[str],
                   timeout: float) -> float | None:
    """perf_counter() when ``group`` committed the ends of the input topic and then of the
    ``internal`` (repartition) topics it reads; None after ``timeout`` s."""
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                      "enable.auto.commit": False, "isolation.level": "read_committed"})
    try:
        deadline = time.monotonic() + timeout
        ends = end_offsets(probe, [input_topic])
        internal_done = not internal
        while time.monotonic() < deadline:
            if committed_reach(probe, ends):
                if internal_done:
                    return time.perf_counter()
                # The input is consumed and its results committed: the repartition topics
                # stop growing now; wait for their ends to be committed too.
                ends = end_offsets(probe, internal)
                internal_done = True
                continue
            time.sleep(POLL_S)
        return None
    finally:
        probe.close()


def wait_acknowledged(bootstrap: str, topic: str, expected: int, timeout: float,
                      done: threading.Event | None = None) -> float | None:
    """perf_counter() when the high watermarks of ``topic`` sum to ``expected`` records;
    None after ``timeout`` s (or when ``done`` is set and the sum stays short)."""
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                      "enable.auto.commit": False})
    try:
        deadline = time.monotonic() + timeout
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        while time.monotonic() < deadline:
            total = sum(probe.get_watermark_offsets(tp, 10, cached=False)[1] for tp in tps)
            if total >= expected:
                return time.perf_counter()
            if done is not None and done.is_set():
                total = sum(probe.get_watermark_offsets(tp, 10, cached=False)[1] for tp in tps)
                return time.perf_counter() if total >= expected else None
            time.sleep(POLL_S)
        return None
    finally:
        probe.close()


def verify_output(bootstrap: str, topic: str, totals: dict[str, int], exactly_once: bool,
                  name: str, timeout: float = 120.0) -> int:
    """Read ``topic`` in full (read_committed) and check the count updates: for every word
    the counts 1..n (n = its occurrences), each once (exactly-once) or at least once.
    Returns the number of updates read; raises SystemExit when the output is wrong."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                         "enable.auto.commit": False, "isolation.level": "read_committed",
                         "enable.partition.eof": True})
    tps = [TopicPartition(topic, p, 0) for p in range(PARTITIONS)]
    consumer.assign(tps)
    ends = end_offsets(consumer, [topic])
    seen: dict[tuple[bytes, bytes], int] = {}
    read = 0
    eof: set[int] = set()
    deadline = time.monotonic() + timeout
    try:
        while len(eof) < PARTITIONS and time.monotonic() < deadline:
            for msg in consumer.consume(50_000, 0.5):
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        if msg.offset() >= ends[(topic, msg.partition())]:
                            eof.add(msg.partition())
                        continue
                    raise SystemExit(f"{name}: reading the output failed: {err.str()}")
                pair = (msg.key(), msg.value())
                seen[pair] = seen.get(pair, 0) + 1
                read += 1
    finally:
        consumer.close()
    if len(eof) < PARTITIONS:
        raise SystemExit(f"{name}: the output could not be read to its end in {timeout:g} s")
    expected = sum(totals.values())
    per_word: dict[str, list[int]] = {}
    duplicates = 0
    for (key, value), times in seen.items():
        per_word.setdefault(key.decode(), []).append(int.from_bytes(value, "big", signed=True))
        duplicates += times - 1
    wrong = [word for word, total in totals.items()
             if sorted(per_word.get(word, ())) != list(range(1, total + 1))]
    wrong += [word for word in per_word if word not in totals]
    if wrong:
        raise SystemExit(f"{name}: wrong count updates for {len(wrong)} word(s), e.g. "
                         f"{wrong[0]!r}: {sorted(per_word.get(wrong[0], ()))[:10]}...")
    if exactly_once and (duplicates or read != expected):
        raise SystemExit(f"{name}: {read:,} updates read, {expected:,} expected exactly once "
                         f"({duplicates:,} duplicates)")
    return read


def run_streamnb(bootstrap: str, state_dir: Path, input_topic: str, totals: dict[str, int],
                 guarantee: str, timeout: float) -> tuple[float, float, float, float]:
    """Returns (seconds from start() to done (see the module doc), start() -> RUNNING,
    CPU seconds of the stream thread, CPU seconds of this whole process meanwhile)."""
    run = uuid.uuid4().hex[:8]
    output = f"bench-out-{guarantee}-{run}"
    words = sum(totals.values())
    ensure_topics(bootstrap, {output: PARTITIONS})
    app_id = f"bench-{guarantee.replace('_', '-')}-{run}"
    streams = make_streams(wordcount_topology(input_topic, output), bootstrap, state_dir,
                           guarantee, app_id)
    exactly_once = guarantee != "at_least_once"
    gc.collect()
    cpu0 = process_cpu_s()
    start = time.perf_counter()
    streams.start()
    if exactly_once:
        internal = [t for t in streams.plan.stream_topics if t != input_topic]
        done_at = wait_committed(bootstrap, app_id, input_topic, internal, timeout)
    else:
        done_at = wait_acknowledged(bootstrap, output, words, timeout)
    cpu = process_cpu_s() - cpu0
    threads = getattr(streams, "_threads", [])
    thread_cpu = sum(thread_cpu_s(t.native_id) for t in threads) if threads else float("nan")
    running = streams.running_after_s
    streams.close(30)
    if done_at is None:
        raise SystemExit(f"{guarantee}: not done within {timeout:g} s")
    verify_output(bootstrap, output, totals, exactly_once, f"streamnb {guarantee}")
    return done_at - start, running or float("nan"), thread_cpu, cpu


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


def run_plain_loop(bootstrap: str, input_topic: str, totals: dict[str, int],
                   timeout: float) -> float:
    """A plain confluent-kafka loop: consume lines, count words in a dict, produce counts;
    timed like at-least-once (until the output's high watermarks reach the updates)."""
    output = f"bench-out-plain-{uuid.uuid4().hex[:8]}"
    words = sum(totals.values())
    ensure_topics(bootstrap, {output: PARTITIONS})
    finished = threading.Event()

    def loop() -> None:
        try:
            plain_loop(bootstrap, input_topic, output, words, timeout)
        finally:
            finished.set()

    gc.collect()
    start = time.perf_counter()
    worker = threading.Thread(target=loop, daemon=True)
    worker.start()
    done_at = wait_acknowledged(bootstrap, output, words, timeout, done=finished)
    worker.join(timeout)
    if done_at is None:
        raise SystemExit(f"plain loop: not all {words:,} updates in {timeout:g} s")
    verify_output(bootstrap, output, totals, False, "plain loop")
    return done_at - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="end-to-end word count benchmark")
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--inline-commit", action="store_true",
                        help="exactly-once commits in line instead of beside the next batch "
                             "(for an A/B of streamnb.runtime.stream_thread.OVERLAP_COMMIT)")
    args = parser.parse_args(argv)
    if args.inline_commit:
        from streamnb.runtime import stream_thread
        stream_thread.OVERLAP_COMMIT = False
    state_dir = Path(tempfile.mkdtemp(prefix="streamnb-bench-e2e-"))
    try:
        # Constructing a client without bootstrap.servers starts the embedded broker.
        probe = KafkaStreams(wordcount_topology("bench-probe-in", "bench-probe-out"),
                             {"application.id": "bench-probe", "state.dir": str(state_dir)})
        bootstrap = probe.bootstrap_servers
        kind = getattr(probe.broker, "kind", "?")
        lines = word_lines(args.lines)
        totals: dict[str, int] = {}
        for line in lines:
            for word in line.lower().split():
                totals[word] = totals.get(word, 0) + 1
        words = sum(totals.values())
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
                words / run_plain_loop(bootstrap, input_topic, totals, args.timeout))
            for guarantee in ("at_least_once", "exactly_once_v2"):
                elapsed, running, thread_cpu, proc_cpu = run_streamnb(
                    bootstrap, state_dir, input_topic, totals, guarantee, args.timeout)
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
                  f"(incl. librdkafka threads) "
                  f"{', '.join(f'{p:.2f} s' for _, p in values)}")
        for guarantee, values in startup.items():
            print(f"start() -> RUNNING ({guarantee}): "
                  f"{', '.join(f'{v:.2f} s' for v in values)}")
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
