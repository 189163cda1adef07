"""In-process word count: the seed topology through the engine, no broker, no serdes.

    python bench/bench_wordcount.py [--lines 100000] [--runs 3]

Prints words/s for streamnb's engine and for a hand-written dict loop (the practical limit
of Python on this machine), median and range over interleaved runs.

The engine runs the input as a stream thread does: poll batches of ``POLL_LINES`` lines go
through the fused source loop. Kafka's poll returns up to ``max.poll.records`` (1000)
records, often fewer; per-line batches (``batch_size=1``) add a batch call per line that a
real thread does not pay. The output is exactly the same for any batch size
(tests/engine/test_engine_bench_wordcount_batches.py).

The repartition topic between ``group_by`` and ``count`` has no broker here: each batch's
words are queued on it and read back after the batch, as the next poll would return them.

What is timed matches the peers' in-process runs (bench/peers/inproc_bytewax.py times its
dataflow's construction and its source reading the lines): building the topology and the
task, turning the lines into ``(key, value, timestamp)`` records, running them, collecting
every ``(word, count, timestamp)`` update.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import InProcessRunner, peak_rss_mb, word_lines  # noqa: E402

from streamnb.examples.wordcount import INPUT_TOPIC, OUTPUT_TOPIC, build_topology  # noqa: E402

#: Input lines per poll batch (see the module docstring).
POLL_LINES = 100


def run_streamnb(lines: list[str], batch_size: int = POLL_LINES,
                 clock: Callable[[], float] = time.perf_counter) -> tuple[float, int]:
    """(seconds, updates): topology and task built, records made and run, all timed."""
    gc.collect()
    start = clock()
    runner = InProcessRunner(build_topology())
    records = [(None, line, index) for index, line in enumerate(lines)]
    runner.run(INPUT_TOPIC, records, batch_size)
    elapsed = clock() - start
    return elapsed, len(runner.collector.outputs[OUTPUT_TOPIC])


def run_dict_loop(lines: list[str], clock: Callable[[], float] = time.perf_counter
                  ) -> tuple[float, int]:
    gc.collect()
    start = clock()
    counts: dict[str, int] = {}
    out = []
    for line in lines:
        for word in line.lower().split():
            count = counts.get(word, 0) + 1
            counts[word] = count
            out.append((word, count))
    return clock() - start, len(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="in-process word count benchmark")
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="write results here")
    parser.add_argument("--cpu", action="store_true",
                        help="time with process CPU time (steadier on a shared machine)")
    args = parser.parse_args(argv)
    clock = time.process_time if args.cpu else time.perf_counter
    lines = word_lines(args.lines)
    words = sum(len(line.split()) for line in lines)
    systems: dict[str, Callable[[], tuple[float, int]]] = {
        "streamnb engine": lambda: run_streamnb(lines, clock=clock),
        "python dict loop": lambda: run_dict_loop(lines, clock),
    }
    results: dict[str, list[float]] = {name: [] for name in systems}
    for _ in range(args.runs):  # interleaved: A, B, C, A, B, C ...
        for name, run in systems.items():
            elapsed, updates = run()
            assert updates == words, (name, updates, words)
            results[name].append(words / elapsed)
    print(f"word count, {args.lines:,} lines, {words:,} words, {args.runs} interleaved runs, "
          f"{'CPU' if args.cpu else 'wall'} time")
    print(f"{'system':<20}{'median words/s':>16}{'min':>12}{'max':>12}")
    for name, rates in results.items():
        print(f"{name:<20}{statistics.median(rates):>16,.0f}{min(rates):>12,.0f}"
              f"{max(rates):>12,.0f}")
    engine, loop = (statistics.median(results[n]) for n in ("streamnb engine",
                                                             "python dict loop"))
    print(f"engine / dict loop {engine / loop:.3f} (poll batch {POLL_LINES} lines)")
    print(f"peak RSS {peak_rss_mb():.0f} MB")
    if args.json:
        args.json.write_text(json.dumps(
            {name: {"median": statistics.median(r), "min": min(r), "max": max(r)}
             for name, r in results.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
