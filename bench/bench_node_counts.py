"""Cost of per-node record counting on the in-process word count: interleaved A/B runs.

    python bench/bench_node_counts.py [--lines 100000] [--runs 5]

A = node counting off (``metrics.recording.level`` INFO, the default), B = on (DEBUG).
Each run measures the CPU time of this process (``time.process_time``), so other processes
on a shared machine disturb it less; prints the median per variant and the median of the
paired B/A ratios.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import InProcessRunner, word_lines  # noqa: E402

import streamnb.engine.task as engine_task  # noqa: E402
from streamnb.examples.wordcount import INPUT_TOPIC, build_topology  # noqa: E402

_COUNTING = engine_task.counting_levels


def _run(lines: list[str], counting: bool) -> float:
    # As metrics.recording.level=DEBUG (B) or INFO (A) would set it.
    engine_task.counting_levels = lambda config: (counting, counting)  # type: ignore[assignment]
    try:
        runner = InProcessRunner(build_topology())
    finally:
        engine_task.counting_levels = _COUNTING
    records = [(None, line, index) for index, line in enumerate(lines)]
    gc.collect()
    start = time.process_time()
    runner.run(INPUT_TOPIC, records)
    elapsed = time.process_time() - start
    totals = runner.task.node_process_totals()
    assert bool(totals) == counting, totals
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    lines = word_lines(args.lines)
    off: list[float] = []
    on: list[float] = []
    for i in range(args.runs):  # interleaved, alternating which variant goes first
        pair = [(False, off), (True, on)]
        for counting, out in (pair if i % 2 == 0 else pair[::-1]):
            out.append(_run(lines, counting))
    ratios = [b / a for a, b in zip(off, on)]
    print(f"word count, {args.lines:,} lines, {args.runs} interleaved A/B runs (CPU seconds)")
    print(f"counting off: median {statistics.median(off):.3f}s  min {min(off):.3f}s")
    print(f"counting on:  median {statistics.median(on):.3f}s  min {min(on):.3f}s")
    print(f"cost of counting: {100 * (statistics.median(ratios) - 1):+.2f}% (median of paired "
          f"ratios), {100 * (min(on) / min(off) - 1):+.2f}% (best of each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
