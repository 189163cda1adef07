"""Restart time of an app with a persistent store, with and without its checkpoint.

    python bench/bench_checkpoint_restore.py --keys 100000 --runs 3

Builds a count store of ``--keys`` distinct keys (one partition, persistent store) on a
fresh noida-db, closes the app cleanly (which checkpoints the store), then restarts it on
the same state.dir, alternating: "checkpoint" (the store's checkpoint kept: only the
changelog records after it are replayed) and "no checkpoint" (checkpoint.json deleted
first: the local data is wiped and the whole changelog replayed). Each restart is timed
from ``start()`` until the app is RUNNING with every key in the store; wall seconds and this
process's CPU seconds (``time.process_time``; the machine is shared, CPU is the steadier
figure). Prints the median of each.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _level_state import _produce_keys  # noqa: E402

from streamnb import KafkaStreams, Materialized, StreamsBuilder  # noqa: E402
from streamnb.broker import ensure_topics, start_noida  # noqa: E402
from streamnb.runtime.states import State  # noqa: E402

APP = "bench-checkpoint"
STORE = "bench-store"


def _topology(source: str):
    builder = StreamsBuilder()
    (builder.stream(source).group_by_key()
     .count(materialized=Materialized.as_(STORE).with_store_type("persistent")))
    return builder.build()


def _run_until_complete(bootstrap: str, source: str, state_dir: Path, n: int,
                        timeout: float) -> tuple[float, float, int]:
    """Start, wait for RUNNING with ``n`` keys, close; (wall s, CPU s, records restored)."""
    streams = KafkaStreams(_topology(source), {
        "application.id": APP, "bootstrap.servers": bootstrap, "state.dir": str(state_dir),
        "default.key.serde": "string", "default.value.serde": "string",
        "session.timeout.ms": 6000})
    wall, cpu = time.perf_counter(), time.process_time()
    streams.start()
    deadline = time.monotonic() + timeout
    try:
        while True:
            if (streams.state() is State.RUNNING
                    and streams.store(STORE).approximate_num_entries() >= n):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"not RUNNING with {n:,} keys after {timeout:g} s")
            time.sleep(0.02)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        restored = streams.metrics()["restore-total"]
    finally:
        streams.close(120)
    return wall, cpu, restored


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600.0)
    opts = parser.parse_args(argv)
    logging.getLogger("streamnb").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-ckpt-") as tmp:
        broker = start_noida(Path(tmp) / "noida", reuse_running=False, timeout=30)
        try:
            bootstrap = broker.bootstrap_servers
            source = "bench-checkpoint-keys"
            ensure_topics(bootstrap, {source: 1})
            _produce_keys(bootstrap, source, opts.keys)
            state_dir = Path(tmp) / "state"
            wall, _cpu, _ = _run_until_complete(bootstrap, source, state_dir, opts.keys,
                                                opts.timeout)
            print(f"built {opts.keys:,} keys in {wall:.1f} s; load {os.getloadavg()}")
            checkpoint = state_dir / APP / "0_0" / STORE / "checkpoint.json"
            results: dict[str, list[tuple[float, float, int]]] = {
                "checkpoint": [], "no checkpoint": []}
            for index in range(opts.runs):
                for variant in ("checkpoint", "no checkpoint"):  # interleaved A/B
                    if not checkpoint.is_file():
                        raise SystemExit("the clean close wrote no checkpoint")
                    if variant == "no checkpoint":
                        checkpoint.unlink()
                    result = _run_until_complete(bootstrap, source, state_dir, opts.keys,
                                                 opts.timeout)
                    results[variant].append(result)
                    print(f"run {index + 1} {variant:<14} {result[0]:7.2f} s wall "
                          f"{result[1]:7.2f} s CPU  restored {result[2]:,} records")
            for variant, runs in results.items():
                print(f"{variant:<14} median {statistics.median(r[0] for r in runs):7.2f} s "
                      f"wall, {statistics.median(r[1] for r in runs):7.2f} s CPU "
                      f"({opts.keys:,} keys, {len(runs)} runs)")
        finally:
            broker.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
