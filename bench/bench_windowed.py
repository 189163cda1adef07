"""Windowed count through the engine: 1-minute tumbling windows, no broker, no serdes.

    python bench/bench_windowed.py [--records 1000000] [--keys 10000] [--runs 3]

The topology is ``stream -> group_by_key -> windowed_by(1 min, grace 10 s) -> count ->
to_stream -> to``, run as one engine ``Task`` driven as the runtime's stream thread drives
it: ``Task.batch_entry`` over poll batches of ``POLL_BATCH`` records (the runtime's
``streamnb.consume.batch.size`` default), the cyclic GC paused during each poll batch (as
``stream_thread._fetch`` pauses it: reference counting frees a batch's garbage, and a
collection runs, if due, between batches), and a commit every ``COMMIT_EVERY`` records - more
often than the runtime's commit interval (30 s, or 100 ms under exactly-once) comes round at
these rates, so the changelog is deduplicated over less and the figure errs low. As the
runtime's collector produces a batch's output and lets it go, the collector here hands each
batch's output records over and drops them (counting them): a benchmark that kept a million
output records alive would measure Python's garbage collector walking them, and their
memory, not the engine. Event times spread over an hour; 1% of records are late but within
the grace period. The two reference loops run in the same batches with the GC paused alike.

Prints records/s (wall clock and CPU time of this process; median and range over runs) and,
run interleaved with the engine, two hand-written references: a plain dict loop (window,
count, forward key + window + count + timestamp, nothing else) and a loop doing all of the
engine's work (stream time, grace, retention, changelog deduplicated per commit and sent
at commit, ``Windowed`` keys) with the engine's own tricks - the figure pure Python reaches
for this work, which the engine's is read against. Then the window store's size as stream
time moves on (it must stay flat once stream time passes the retention), the peak RSS
growth during a run, and checks the final counts against the dict loop.
"""

from __future__ import annotations

import argparse
import gc
import logging
import random
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import CapturingCollector  # noqa: E402

from streamnb import StreamsBuilder, TimeWindows  # noqa: E402
from streamnb.dsl.windows import TimeWindow, Windowed  # noqa: E402
from streamnb.engine.task import Task  # noqa: E402
from streamnb.runtime.config import STREAMS_DEFAULTS  # noqa: E402
from streamnb.topology.topology import Subtopology  # noqa: E402

WINDOW_MS = 60_000
GRACE_MS = 10_000
HOUR_MS = 3_600_000
#: records per poll batch: what the runtime's consumer hands its stream thread at most
POLL_BATCH = STREAMS_DEFAULTS["streamnb.consume.batch.size"]
#: records between commits (a multiple of POLL_BATCH; see the module docstring)
COMMIT_EVERY = 10_000
assert COMMIT_EVERY % POLL_BATCH == 0


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


def _status_kb(field: str) -> int:
    """A memory figure of this process from /proc (Linux), in KB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak_rss() -> None:
    """Start a new peak-RSS (VmHWM) measurement (Linux ``clear_refs`` 5)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def run_once(records: list[tuple[str, int, int]]) -> tuple[float, int, list[tuple[int, int]]]:
    """One run for the scoreboard harness: (wall s, updates forwarded, store sizes)."""
    wall, _cpu, forwarded, sizes, _growth, _final = measure_once(records)
    return wall, forwarded, sizes


def measure_once(records: list[tuple[str, int, int]]
                 ) -> tuple[float, float, int, list[tuple[int, int]], float, dict]:
    """One run: (wall s, CPU s, updates forwarded, store sizes, peak RSS growth MB, final
    live windows ``{(key, start): count}``)."""
    task, collector = build_task()
    run_batch = task.batch_entry("clicks")
    store = task.stores["clicks-per-minute"]
    outputs = collector.outputs.setdefault("counts", [])
    forwarded = 0
    sizes = []
    checkpoint = len(records) // 10
    gc.collect()
    gc.freeze()  # the input list is set-up data: keep the collector from rescanning it
    rss_before = _status_kb("VmRSS")
    _reset_peak_rss()
    wall, cpu = time.perf_counter(), time.process_time()
    for index in range(0, len(records), POLL_BATCH):  # a consumer's poll batches
        gc.disable()  # as the stream thread: no cyclic GC while a poll batch runs
        try:
            run_batch(records[index:index + POLL_BATCH])
            forwarded += len(outputs)
            outputs.clear()  # produced and gone, as in the runtime
        finally:
            gc.enable()
        end = index + POLL_BATCH
        if end % COMMIT_EVERY == 0 or end >= len(records):
            task.commit()
        if end % checkpoint == 0:
            sizes.append((task.ctx.stream_time, store.approximate_num_entries()))
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    growth = (_status_kb("VmHWM") - rss_before) / 1024
    gc.unfreeze()
    final = {(kv[0].key, kv[0].window.start): kv[1][0] for kv in store.all()}
    task.close()
    return wall, cpu, forwarded, sizes, growth, final


def run_dict_loop(records: list[tuple[str, int, int]]) -> float:
    """Wall seconds of the dict loop (the scoreboard harness's reference)."""
    return dict_loop(records)[0]


def dict_loop(records: list[tuple[str, int, int]]) -> tuple[float, float, dict]:
    """The reference: the same counting as a plain dict loop - window per record, count,
    forward key + window + count + timestamp - written as fast as we could (no engine, no
    stream time, grace, retention, changelog or ``Windowed`` objects). Returns wall and CPU
    seconds and the counts per (key, window start)."""
    gc.collect()
    gc.freeze()  # as for the engine: the input list is set-up data
    wall, start = time.perf_counter(), time.process_time()
    segments: dict[int, dict[str, tuple[int, int]]] = {}
    out: list[tuple[tuple[str, int], int, int]] = []
    append = out.append
    for index in range(0, len(records), POLL_BATCH):  # the engine's batches
        gc.disable()  # as for the engine
        for key, _value, ts in records[index:index + POLL_BATCH]:
            window = ts - ts % WINDOW_MS
            segment = segments.get(window)
            if segment is None:
                segment = segments[window] = {}
            old = segment.get(key)
            if old is None:
                count, latest = 1, ts
            else:
                count, latest = old
                count += 1
                if ts > latest:
                    latest = ts
            segment[key] = (count, latest)
            append(((key, window), count, latest))
        out.clear()
        gc.enable()
    cpu = time.process_time() - start
    wall = time.perf_counter() - wall
    gc.unfreeze()
    counts = {(key, window): stored[0] for window, segment in segments.items()
              for key, stored in segment.items()}
    return wall, cpu, counts


def same_work_loop(records: list[tuple[str, int, int]]) -> tuple[float, float, dict]:
    """A hand-written loop doing what the engine does per record, with the engine's own
    tricks: stream time, closed windows dropped, (count, max timestamp) per window,
    retention, the changelog deduplicated per commit and handed over at commit (one
    ``send_changelog_pairs`` call per commit, as the task does), ``Windowed`` keys (one per
    key and window) forwarded with count and timestamp. What pure Python can do for this
    work; the engine's figure is read against it."""
    collector = CapturingCollector()
    send_pairs = collector.send_changelog_pairs
    gc.collect()
    gc.freeze()
    wall, begin = time.perf_counter(), time.process_time()
    new = object.__new__
    segments: dict[int, dict[str, tuple[int, int]]] = {}
    key_cache: dict[int, tuple[dict[str, Windowed], TimeWindow]] = {}
    pending: dict[tuple[str, int], tuple[int, int]] = {}
    out: list[tuple[Windowed, int, int]] = []
    append = out.append
    observed = -1
    last = -1
    segment: dict[str, tuple[int, int]] = {}
    keys: dict[str, Windowed] = {}
    window = None
    retention = WINDOW_MS + GRACE_MS
    for index in range(0, len(records), POLL_BATCH):
        gc.disable()  # as for the engine
        for key, _value, ts in records[index:index + POLL_BATCH]:
            if ts > observed:
                observed = ts
            start = ts - ts % WINDOW_MS
            if start + retention <= observed:
                continue  # closed
            if start != last:
                got = segments.get(start)
                if got is None:
                    got = segments[start] = {}
                    for old_start in [s for s in segments if s + retention <= observed]:
                        del segments[old_start]
                        key_cache.pop(old_start, None)
                segment, last = got, start
                cached = key_cache.get(start)
                if cached is None:
                    window = new(TimeWindow)
                    window.start, window.end = start, start + WINDOW_MS
                    cached = key_cache[start] = ({}, window)
                keys, window = cached
            old = segment.get(key)
            if old is None:
                count, latest = 1, ts
                windowed = new(Windowed)
                windowed.key = key
                windowed.window = window
                keys[key] = windowed
            else:
                count, latest = old
                count += 1
                if ts > latest:
                    latest = ts
                windowed = keys[key]
            segment[key] = pending[(key, start)] = (count, latest)
            append((windowed, count, latest))
        out.clear()
        gc.enable()
        end = index + POLL_BATCH
        if end % COMMIT_EVERY == 0 or end >= len(records):  # commit
            send_pairs("changelog", 0, pending.items(), observed, None, None)
            pending.clear()
    cpu = time.process_time() - begin
    wall = time.perf_counter() - wall
    gc.unfreeze()
    counts = {(key, start): stored[0] for start, segment in segments.items()
              for key, stored in segment.items()}
    return wall, cpu, counts


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
    walls, cpus, loops, same, growths = [], [], [], [], []
    outputs = 0
    sizes: list[tuple[int, int]] = []
    final: dict = {}
    expected: dict = {}
    for _ in range(args.runs):  # interleaved, so machine load hits both alike
        wall, cpu, outputs, sizes, growth, final = measure_once(records)
        walls.append(args.records / wall)
        cpus.append(args.records / cpu)
        growths.append(growth)
        _wall, loop_cpu, expected = dict_loop(records)
        loops.append(args.records / loop_cpu)
        _wall, same_cpu, same_counts = same_work_loop(records)
        same.append(args.records / same_cpu)
        if same_counts != {w: c for w, c in expected.items() if w in same_counts}:
            raise AssertionError("the same-work loop counts differently from the dict loop")
    live = {window: count for window, count in expected.items() if window in final}
    oldest_live = min(start for _key, start in final) if final else 0
    wrong = sum(1 for window, count in expected.items()
                if window[1] >= oldest_live and final.get(window) != count)
    print(f"windowed count: {args.records:,} records, {args.keys:,} keys, 1-min tumbling "
          f"windows, grace 10 s, ~{late:,} out-of-order records, {args.runs} runs "
          "(engine Task driven in batches, no serdes)")
    print(f"records/s median {statistics.median(walls):,.0f}  min {min(walls):,.0f}  "
          f"max {max(walls):,.0f}   (wall clock; {outputs:,} updates forwarded per run)")
    print(f"records/s per CPU second median {statistics.median(cpus):,.0f}  "
          f"min {min(cpus):,.0f}  max {max(cpus):,.0f}")
    print(f"python dict loop (reference: window, count, forward; nothing else) records/s per "
          f"CPU second median {statistics.median(loops):,.0f}")
    print(f"hand-written loop doing the engine's work (stream time, grace, retention, "
          f"changelog, Windowed keys) records/s per CPU second median "
          f"{statistics.median(same):,.0f}")
    print(f"engine / same-work loop (median of per-run CPU ratios) "
          f"{statistics.median(c / s for c, s in zip(cpus, same)):.2f}")
    print("window store size as stream time moves (retention = 70 s):")
    for stream_time, size in sizes:
        print(f"  stream time {stream_time / 60_000:6.1f} min   {size:>7,} windows")
    print(f"peak RSS growth during a run {max(growths):.0f} MB (max over runs); process peak "
          f"RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB "
          "(input records included)")
    print(f"final counts: {len(final):,} live windows, {len(live):,} compared with the dict "
          f"loop, {wrong} wrong")
    return 1 if wrong or outputs != args.records else 0


if __name__ == "__main__":
    raise SystemExit(main())
