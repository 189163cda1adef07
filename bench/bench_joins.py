"""Join benchmark: records through the engine (one task, no broker, no serdes).

    python bench/bench_joins.py [--records 1000000] [--keys 10000] [--table-keys 100000]
                                [--runs 3]

1. Stream-stream inner join, JoinWindows of 5 s, ``--records`` records (half per side,
   interleaved, 1 ms of event time per pair), ~1 partner per record.
2. Stream-table enrichment: a ``--table-keys`` table loaded first, then ``--records`` stream
   records looked up in it.

Prints records/s (median of ``--runs``, wall clock and per CPU-second of this process, as
the machine may be shared), output counts, peak RSS growth, and the join store sizes along
the run (they must stay flat once stream time passes the retention). The join stores are
change-logged, as by default in Kafka: the collector counts the changelog records a commit
sends (a join store's records come as one batch per store and commit, through
``send_changelog_batch``; ``--per-record-changelog`` takes that method away, so the task
falls back to one ``send_changelog`` call per record), and sinks are compiled per topic as
the runtime's collector compiles them. The stream-stream records run as a stream thread
runs them: poll batches, split into runs of one side, through the generated batch loops.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import resource
import statistics
import sys
import time
from typing import Any

from streamnb import StreamsBuilder
from streamnb.dsl.join_options import StreamJoined
from streamnb.dsl.join_windows import JoinWindows
from streamnb.engine.task import Task
from streamnb.topology.topology import Subtopology

COMMIT_EVERY = 1000
#: Records of one side in a row within a poll batch (see ``run_stream_stream``).
RUN = 100


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class CountingCollector:
    """Counts what sinks and changelogs send (a broker producer would only enqueue it)."""

    def __init__(self) -> None:
        self.count = 0
        self.changelog = 0

    def send(self, topic: str, key: Any, value: Any, timestamp: int, headers: Any,
             key_serde: Any, value_serde: Any, partitioner: Any, sink_name: Any) -> None:
        self.count += 1

    def sink_process(self, topic: str, key_serde: Any, value_serde: Any, partitioner: Any,
                     sink_name: Any, ctx: Any) -> Any:
        """One function per sink, as the runtime's collector compiles them."""
        def counted(key: Any, value: Any) -> None:
            self.count += 1

        return counted

    def send_changelog(self, topic: str, partition: int, key: Any, value: Any, timestamp: int,
                       key_serde: Any, value_serde: Any) -> None:
        self.changelog += 1



class BatchCountingCollector(CountingCollector):
    """Also takes a commit's changelog records of one store in one call."""

    def send_changelog_batch(self, topic: str, partition: int, records: list[tuple[Any, Any, int]],
                             key_serde: Any, value_serde: Any) -> None:
        """``records`` are ``(key, value, timestamp)`` each."""
        self.changelog += len(records)

    def send_changelog_pairs(self, topic: str, partition: int, pairs: Any, timestamp: int,
                             key_serde: Any, value_serde: Any) -> None:
        """A key-value store's pending ``(key, (value, ts))`` changes, as the runtime's."""
        self.changelog += len(pairs)


BATCH_CHANGELOG = True  # --per-record-changelog sets it to False


def make_task(builder: StreamsBuilder) -> tuple[Task, CountingCollector]:
    topology = builder.build()
    groups = topology.subtopologies()
    merged = Subtopology(0, [n for g in groups for n in g.nodes], [], [],
                         [s for g in groups for s in g.stores])
    collector = BatchCountingCollector() if BATCH_CHANGELOG else CountingCollector()
    return Task("0_0", topology, merged, collector, "bench"), collector


def stream_stream_data(records: int, keys: int) -> list[tuple[int, int, int]]:
    """``records`` (key, value, ts), alternating left/right, 1 ms of event time per pair."""
    rng = random.Random(7)
    return [(rng.randrange(keys), i, i // 2) for i in range(records)]


def run_stream_stream(data: list[tuple[int, int, int]], logged: bool = True,
                      counts: dict[str, int] | None = None
                      ) -> tuple[float, float, int, list[int]]:
    """Even indexes to the left side, odd to the right: (wall s, CPU s, results, store
    sizes); ``counts["changelog"]`` gets the changelog records sent.

    Run as the stream thread runs a task: poll batches of ``COMMIT_EVERY`` records, each
    split into runs of ``RUN`` records of one side that go through that side's generated
    batch loop (a fetch returns runs of one partition; runtime/stream_thread.py hands each
    run to the task), cyclic GC paused within a poll batch, a commit after each."""
    builder = StreamsBuilder()
    left, right = builder.stream("left"), builder.stream("right")
    joined = StreamJoined() if logged else StreamJoined().with_logging_disabled()
    left.join(right, lambda a, b: a + b,
              JoinWindows.of_time_difference_with_no_grace(5000), joined).to("out")
    task, collector = make_task(builder)
    records = len(data)
    run_left, run_right = task.batch_entry("left"), task.batch_entry("right")
    stores = [task.stores[name] for name in task.stores]
    gc.collect()
    gc.freeze()  # the input list is set-up data: keep the collector from rescanning it
    sizes = []
    sample_every = max(1, records // 5)
    start, cpu0 = time.perf_counter(), time.process_time()
    for begin in range(0, records, COMMIT_EVERY):
        poll = data[begin:begin + COMMIT_EVERY]
        lefts, rights = poll[0::2], poll[1::2]
        gc.disable()
        try:
            for at in range(0, len(lefts), RUN):
                run_left(lefts[at:at + RUN])
                run_right(rights[at:at + RUN])
        finally:
            gc.enable()
        task.commit()
        if begin % sample_every == 0:
            sizes.append(sum(s.approximate_num_entries() for s in stores))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu0
    gc.unfreeze()
    task.close()
    if counts is not None:
        counts["changelog"] = collector.changelog
    return elapsed, cpu, collector.count, sizes


def bench_stream_stream(records: int, keys: int, runs: int, logging: bool = True) -> float:
    """Print the stream-stream figures; return the median records/s (wall clock)."""
    data = stream_stream_data(records, keys)
    rss0 = peak_rss_mb()
    walls, cpus = [], []
    counts: dict[str, int] = {}
    for _ in range(runs):
        elapsed, cpu, results, sizes = run_stream_stream(data, logging, counts)
        walls.append(records / elapsed)
        cpus.append(records / cpu)
    rate = statistics.median(walls)
    what = "changelogged stores (Kafka's default)" if logging else "logging disabled"
    print(f"stream-stream join (5 s window, {what}): {records:,} records, {runs} runs: median "
          f"{rate:,.0f} records/s (min {min(walls):,.0f}, max {max(walls):,.0f}); per "
          f"CPU-second median {statistics.median(cpus):,.0f}; {results:,} join results, "
          f"{counts['changelog']:,} changelog records per run; peak RSS growth "
          f"{peak_rss_mb() - rss0:.0f} MB")
    print(f"  window store records at 0%,20%..80% of the run: {sizes} "
          f"(live: 2 sides x 10,000 ms of records, plus at most one unswept 60 s segment)")
    return rate


def stream_table_data(records: int, table_keys: int) -> list[tuple[int, int]]:
    """``records`` stream (key, value) pairs with keys drawn from the table's."""
    rng = random.Random(11)
    return [(rng.randrange(table_keys), i) for i in range(records)]


def run_stream_table(table_keys: int, data: list[tuple[int, int]]) -> tuple[float, float, int]:
    """Load the table (untimed), then time the stream: (wall s, CPU s, results)."""
    builder = StreamsBuilder()
    table = builder.table("customers")
    builder.stream("orders").join(table, lambda order, customer: (order, customer)).to("out")
    task, collector = make_task(builder)
    run_table, run_stream = task.source_entry("customers"), task.source_entry("orders")
    for key in range(table_keys):
        run_table(key, f"customer-{key}", 0)
    task.commit()
    loaded = collector.count
    gc.collect()
    start, cpu0 = time.perf_counter(), time.process_time()
    for index, (key, value) in enumerate(data):
        run_stream(key, value, index)
        if index % COMMIT_EVERY == 0:
            task.commit()
    task.commit()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu0
    task.close()
    return elapsed, cpu, collector.count - loaded


def bench_stream_table(records: int, table_keys: int) -> None:
    data = stream_table_data(records, table_keys)
    rss0 = peak_rss_mb()
    elapsed, cpu, results = run_stream_table(table_keys, data)
    print(f"stream-table join ({table_keys:,}-key table): {records:,} records in "
          f"{elapsed:.2f} s = {records / elapsed:,.0f} records/s ({records / cpu:,.0f} per "
          f"CPU-second); {results:,} results; "
          f"peak RSS growth {peak_rss_mb() - rss0:.0f} MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="stream-stream and stream-table join benchmark")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--table-keys", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="cProfile the stream-stream run")
    parser.add_argument("--per-record-changelog", action="store_true",
                        help="a collector without send_changelog_batch (one call per record)")
    args = parser.parse_args(argv)
    global BATCH_CHANGELOG
    BATCH_CHANGELOG = not args.per_record_changelog
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"python {sys.version.split()[0]}, load average {load}, baseline peak RSS "
          f"{peak_rss_mb():.0f} MB")
    if args.profile:
        import cProfile
        import pstats

        cProfile.runctx("bench_stream_stream(args.records, args.keys, 1)", globals(),
                        {"args": args}, "/tmp/bench_joins.prof")
        pstats.Stats("/tmp/bench_joins.prof").sort_stats("tottime").print_stats(12)
        return 0
    bench_stream_stream(args.records, args.keys, args.runs)
    bench_stream_stream(args.records, args.keys, args.runs, logging=False)
    bench_stream_table(args.records, args.table_keys)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
