"""Windowed count through the engine: 1-minute tumbling windows, no broker, no serdes.

    python bench/bench_windowed.py [--records 1000000] [--keys 10000] [--runs 3]

The topology is ``stream -> group_by_key -> windowed_by(1 min, grace 10 s) -> count ->
to_stream -> to``, run as one engine ``Task`` (driven through ``Task.batch_entry`` in
batches of 10,000 records, committing after each, with a collector that keeps the output
records in memory). Event times spread over an hour; 1% of records are late but
within the grace period. Prints records/s (median and range over runs), the window store's
size as stream time moves on (it must stay flat once stream time passes the retention),
and peak RSS.
"""

from __future__ import annotations

import argparse
import gc
import logging
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import CapturingCollector, peak_rss_mb  # noqa: E402

from streamnb import StreamsBuilder, TimeWindows  # noqa: E402
from streamnb.engine.task import Task  # noqa: E402
from streamnb.topology.topology import Subtopology  # noqa: E402

WINDOW_MS = 60_000
GRACE_MS = 10_000
HOUR_MS = 3_600_000
COMMIT_EVERY = 10_000


def make_records(count: int, keys: int, seed: int = 7) -> list[tuple[str, int, int]]:
    """``count`` records over an hour of event time; 1% arrive up to 9 s late."""
    rng = random.Random(seed)
    names = [f"user-{i:05d}" for i in range(keys)]
    step = HOUR_MS / count
    records = []
    for index in range(count):
        ts = int(index * step)
        if rng.random() < 0.01:
            ts = max(0, ts - rng.randrange(1, GRACE_MS - 1_000))
        records.append((names[rng.randrange(keys)], 1, ts))
    return records


def build_task() -> tuple[Task, CapturingCollector]:
    builder = StreamsBuilder()
    (builder.stream("clicks").group_by_key()
     .windowed_by(TimeWindows.of_size_and_grace(WINDOW_MS, GRACE_MS))
     .count(materialized="clicks-per-minute").to_stream().to("counts"))
    topology = builder.build()
    groups = topology.subtopologies()
    merged = Subtopology(0, [n for g in groups for n in g.nodes], [], [],
                         [s for g in groups for s in g.stores])
    collector = CapturingCollector()
    return Task("0_0", topology, merged, collector, "bench"), collector


def run_once(records: list[tuple[str, int, int]]) -> tuple[float, int, list[tuple[int, int]]]:
    task, collector = build_task()
    run_batch = task.batch_entry("clicks")
    store = task.stores["clicks-per-minute"]
    sizes = []
    checkpoint = len(records) // 10
    gc.collect()
    gc.freeze()  # the input list is set-up data: keep the collector from rescanning it
    start = time.perf_counter()
    for index in range(0, len(records), COMMIT_EVERY):  # a consumer's batches
        run_batch(records[index:index + COMMIT_EVERY])
        task.commit()
        if (index + COMMIT_EVERY) % checkpoint == 0:
            sizes.append((task.ctx.stream_time, store.approximate_num_entries()))
    elapsed = time.perf_counter() - start
    gc.unfreeze()
    task.close()
    return elapsed, len(collector.outputs.get("counts", ())), sizes


def run_dict_loop(records: list[tuple[str, int, int]]) -> float:
    """The same counting as a hand-written dict loop (no engine): Python's practical limit
    on this machine, for reading the engine's figure."""
    gc.collect()
    start = time.perf_counter()
    segments: dict[int, dict[str, tuple[int, int]]] = {}
    out = []
    for key, _value, ts in records:
        window = ts - ts % WINDOW_MS
        segment = segments.get(window)
        if segment is None:
            segment = segments[window] = {}
        old = segment.get(key)
        new = (1, ts) if old is None else (old[0] + 1, max(ts, old[1]))
        segment[key] = new
        out.append(((key, window), new[0], ts))
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="in-process windowed count benchmark")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    # Late records beyond grace would be logged per record; this workload has none, but keep
    # the benchmark quiet and honest about what it measures.
    logging.getLogger("streamnb").setLevel(logging.ERROR)
    records = make_records(args.records, args.keys)
    late = sum(1 for i in range(1, len(records)) if records[i][2] < records[i - 1][2])
    rates = []
    loop_rates = []
    outputs = 0
    sizes: list[tuple[int, int]] = []
    for _ in range(args.runs):  # interleaved, so machine load hits both alike
        elapsed, outputs, sizes = run_once(records)
        rates.append(args.records / elapsed)
        loop_rates.append(args.records / run_dict_loop(records))
    print(f"windowed count: {args.records:,} records, {args.keys:,} keys, 1-min tumbling "
          f"windows, grace 10 s, ~{late:,} out-of-order records, {args.runs} runs "
          "(engine Task driven in batches, no serdes)")
    print(f"records/s median {statistics.median(rates):,.0f}  min {min(rates):,.0f}  "
          f"max {max(rates):,.0f}   ({outputs:,} updates forwarded per run)")
    print(f"python dict loop (reference) records/s median {statistics.median(loop_rates):,.0f}")
    print("window store size as stream time moves (retention = 70 s):")
    for stream_time, size in sizes:
        print(f"  stream time {stream_time / 60_000:6.1f} min   {size:>7,} windows")
    print(f"peak RSS {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
