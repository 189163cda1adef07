"""One in-process run (no broker) of streamnb's engine or of the hand-written dict loop.

    python bench/_inprocess_child.py '{"system": "streamnb", "workload": "windowed",
                                       "data": "<pickle>"}'

Spawned by bench/run.py, one process per run. streamnb's runs call the existing bench
modules (bench_wordcount, bench_windowed, bench_joins); the dict loops are the practical
limit of plain Python for the same work. Prints one ``BENCH-RESULT`` JSON line.
"""

from __future__ import annotations

import gc
import logging
import sys
import time
from collections import deque
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE / "peers")]

from _child import load, peak_rss_mb, report, spawned_at, spec  # noqa: E402

JOIN_WINDOW_MS = 5_000


def streamnb_run(workload: str, data):
    """(seconds, outputs) through streamnb's engine, via the existing bench modules."""
    if workload == "wordcount":
        import bench_wordcount

        return bench_wordcount.run_streamnb(data)
    if workload == "windowed":
        import bench_windowed

        elapsed, outputs, _sizes = bench_windowed.run_once(data)
        return elapsed, outputs
    import bench_joins

    if workload == "stream_table":
        elapsed, _cpu, outputs = bench_joins.run_stream_table(len(data["table"]), data["stream"])
        return elapsed, outputs
    elapsed, _cpu, outputs, _sizes = bench_joins.run_stream_stream(data)
    return elapsed, outputs


def _stream_table_loop(data) -> tuple[float, int]:
    table = {key: f"customer-{key}" for key, _ in data["table"]}
    gc.collect()
    start = time.perf_counter()
    out = []
    append = out.append
    for key, value in data["stream"]:
        customer = table.get(key)
        if customer is not None:
            append((key, (value, customer)))
    return time.perf_counter() - start, len(out)


def _stream_stream_loop(data) -> tuple[float, int]:
    """Per key, each side's recent (ts, value) in a deque; match within +-5 s, expire older."""
    gc.collect()
    start = time.perf_counter()
    sides: tuple[dict, dict] = ({}, {})
    out = []
    append = out.append
    for index, (key, value, ts) in enumerate(data):
        this, other = sides[index & 1], sides[1 - (index & 1)]
        partners = other.get(key)
        if partners:
            low, high = ts - JOIN_WINDOW_MS, ts + JOIN_WINDOW_MS
            while partners and partners[0][0] < low:
                partners.popleft()
            for other_ts, other_value in partners:
                if other_ts <= high:
                    append((key, value + other_value, ts if ts > other_ts else other_ts))
        mine = this.get(key)
        if mine is None:
            mine = this[key] = deque()
        mine.append((ts, value))
    return time.perf_counter() - start, len(out)


def dict_loop_run(workload: str, data):
    if workload == "wordcount":
        import bench_wordcount

        return bench_wordcount.run_dict_loop(data)
    if workload == "windowed":
        import bench_windowed

        return bench_windowed.run_dict_loop(data), None
    if workload == "stream_table":
        return _stream_table_loop(data)
    return _stream_stream_loop(data)


def main() -> None:
    args = spec()
    t0 = spawned_at()
    if args["system"] == "streamnb":
        logging.getLogger("streamnb").setLevel(logging.ERROR)
        import streamnb  # noqa: F401  (start-up counts the engine's import)
        import streamnb.engine.task  # noqa: F401

        run = streamnb_run
    else:
        run = dict_loop_run
    startup = time.perf_counter() - t0
    data = load(args["data"])
    ready_rss = peak_rss_mb()
    seconds, outputs = run(args["workload"], data)
    report(seconds=seconds, outputs=outputs, startup_s=startup, ready_rss_mb=ready_rss)


if __name__ == "__main__":
    main()
