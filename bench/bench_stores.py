"""Key-value stores: in-memory vs persistent (sqlite behind a write-back cache).

    python bench/bench_stores.py [--keys 1000000] [--load-sizes 100000,1000000]

1. put then get of ``--keys`` distinct keys, with a commit (``flush``) every 10,000 writes
   as the task does at each commit; prints ops/s.
2. loading a store of each ``--load-sizes`` keys through ``_restore`` (what changelog
   restoration does), then ``flush``; prints the time and the peak RSS.

Every measurement runs in a fresh process, so that each peak RSS is its own; the RSS of
the process before the store exists (interpreter, streamnb, the list of keys) is
printed as the baseline.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import peak_rss_mb  # noqa: E402

COMMIT_EVERY = 10_000


def _make(kind: str, directory: Path):
    if kind == "memory":
        from streamnb.state.memory import InMemoryKeyValueStore

        store = InMemoryKeyValueStore("bench")
        store.init(None)
    else:
        from streamnb.state.persistent import PersistentKeyValueStore

        store = PersistentKeyValueStore("bench")
        store.init(directory / "bench")
    return store


def _keys(n: int) -> list[str]:
    return [f"key-{i:07d}" for i in range(n)]


def run_put_get(kind: str, n: int, directory: Path) -> dict:
    keys = _keys(n)
    baseline = peak_rss_mb()
    store = _make(kind, directory)
    put, flush = store.put, store.flush
    start = time.perf_counter()
    for i, key in enumerate(keys, 1):
        put(key, (i, i))  # a DSL count's (count, timestamp)
        if i % COMMIT_EVERY == 0:
            flush()
    flush()
    put_s = time.perf_counter() - start
    get = store.get
    start = time.perf_counter()
    for key in keys:
        get(key)
    get_s = time.perf_counter() - start
    assert store.get(keys[-1]) == (n, n)
    store.close()
    return {"kind": kind, "keys": n, "put_ops_s": n / put_s, "get_ops_s": n / get_s,
            "put_s": put_s, "get_s": get_s, "baseline_rss_mb": baseline,
            "peak_rss_mb": peak_rss_mb()}


def run_load(kind: str, n: int, directory: Path) -> dict:
    keys = _keys(n)
    baseline = peak_rss_mb()
    store = _make(kind, directory)
    restore = store._restore
    start = time.perf_counter()
    for i, key in enumerate(keys):
        restore(key, (i, i))
    store.flush()
    load_s = time.perf_counter() - start
    assert store.approximate_num_entries() == n
    peak = peak_rss_mb()
    on_disk = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
    store.close()
    return {"kind": kind, "keys": n, "load_s": load_s, "baseline_rss_mb": baseline,
            "peak_rss_mb": peak, "disk_mb": on_disk / 2**20}


def _child(phase: str, kind: str, n: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", phase, kind, str(n)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--load-sizes", default="100000,1000000")
    parser.add_argument("--child", nargs=3, metavar=("PHASE", "KIND", "N"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        phase, kind, n = args.child
        with tempfile.TemporaryDirectory(prefix="streamnb-bench-") as tmp:
            run = run_put_get if phase == "putget" else run_load
            print(json.dumps(run(kind, int(n), Path(tmp))))
        return 0

    print(f"put+get of {args.keys:,} keys, flush every {COMMIT_EVERY:,} writes")
    for kind in ("memory", "persistent"):
        r = _child("putget", kind, args.keys)
        print(f"  {kind:<10} put {r['put_ops_s']:>12,.0f} ops/s   get {r['get_ops_s']:>12,.0f} "
              f"ops/s   peak RSS {r['peak_rss_mb']:,.0f} MB (baseline {r['baseline_rss_mb']:,.0f})")
    for size in (int(s) for s in args.load_sizes.split(",") if s):
        print(f"load {size:,} keys via _restore, then flush")
        for kind in ("memory", "persistent"):
            r = _child("load", kind, size)
            disk = f"   on disk {r['disk_mb']:,.1f} MB" if kind == "persistent" else ""
            print(f"  {kind:<10} {r['load_s']:>7.2f} s ({size / r['load_s']:>10,.0f} keys/s)   "
                  f"peak RSS {r['peak_rss_mb']:,.0f} MB (baseline "
                  f"{r['baseline_rss_mb']:,.0f}){disk}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
