"""Bytewax in process (TestingSource -> operators -> TestingSink), run by bench/run.py in
bench/.venvs/bytewax. Bytewax keys must be strings, so integer keys are converted inside
the timed dataflow, as a Bytewax user would have to.

Workloads expressed: wordcount (stateful_map), windowed (count_window, EventClock with a
10 s wait = the grace), stream_table (one tagged input: table rows first, then stream rows,
joined in stateful_map). Not expressed: stream_stream (Bytewax has no interval join;
join_window joins within the same window, a different result).
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _child import load, peak_rss_mb, report, spawned_at, spec  # noqa: E402

t0 = spawned_at()
import bytewax.operators as op  # noqa: E402
import bytewax.operators.windowing as win  # noqa: E402
from bytewax.dataflow import Dataflow  # noqa: E402
from bytewax.testing import TestingSink, TestingSource, run_main  # noqa: E402

BATCH = 1000  # TestingSource hands records over in batches, as a real source would
UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def wordcount(flow: Dataflow, data, out: list) -> None:
    lines = op.input("lines", flow, TestingSource(data, batch_size=BATCH))
    words = op.flat_map("split", lines, lambda line: line.lower().split())
    keyed = op.key_on("key", words, lambda word: word)

    def count(state, _word):
        state = (state or 0) + 1
        return state, state

    op.output("out", op.stateful_map("count", keyed, count), TestingSink(out))


def windowed(flow: Dataflow, data, out: list) -> None:
    records = op.input("clicks", flow, TestingSource(data, batch_size=BATCH))
    clock = win.EventClock(lambda r: EPOCH + timedelta(milliseconds=r[2]),
                           wait_for_system_duration=timedelta(seconds=10))
    windower = win.TumblingWindower(length=timedelta(minutes=1), align_to=EPOCH)
    counted = win.count_window("count", records, clock, windower, key=lambda r: r[0])
    op.output("out", counted.down, TestingSink(out))
    op.output("late", counted.late, TestingSink(out))


def stream_table(flow: Dataflow, data, out: list) -> None:
    tagged = [(True, k, v) for k, v in data["table"]] + [(False, k, v) for k, v in data["stream"]]
    rows = op.input("rows", flow, TestingSource(tagged, batch_size=BATCH))
    keyed = op.key_on("key", rows, lambda row: str(row[1]))

    def enrich(customer, row):
        if row[0]:
            return row[2], None
        return customer, None if customer is None else (row[2], customer)

    joined = op.filter("found", op.stateful_map("join", keyed, enrich),
                       lambda kv: kv[1] is not None)
    op.output("out", joined, TestingSink(out))


def main() -> None:
    args = spec()
    build = {"wordcount": wordcount, "windowed": windowed, "stream_table": stream_table}
    startup = time.perf_counter() - t0
    data = load(args["data"])
    ready = peak_rss_mb()
    out: list = []
    start = time.perf_counter()
    flow = Dataflow("bench")
    build[args["workload"]](flow, data, out)
    run_main(flow)
    seconds = time.perf_counter() - start
    report(seconds=seconds, outputs=len(out), startup_s=startup, ready_rss_mb=ready)


if __name__ == "__main__":
    main()
