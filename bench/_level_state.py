"""Level 4, state: build a count store of N keys (N distinct keys in, one partition) on the
broker, then restore it from its changelog into an empty state.dir. For in-memory and
persistent (sqlite, sqlitedict's layout) stores of 100,000 and 1,000,000 keys.

"build" = keys / seconds from the first record consumed to the last count visible;
"restore" = keys / seconds of start() -> RUNNING with an empty state.dir (it includes the
group join, ~0.5 s). Beside them, bench_stores.py's store-only load (``_restore`` calls, no
broker) shows how much of a restore is the store itself."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from _broker import VisibleEndWatcher, noida
from _harness import HERE, RunFailed, Series, interleave, python_here, spawn
from bench_stores import _child as store_only_child
from confluent_kafka import Producer

from streamnb.broker import ensure_topics

CHILD = HERE / "_state_child.py"
KINDS = {"in_memory": "memory", "persistent": "persistent"}  # store type -> bench_stores kind


def _produce_keys(bootstrap: str, topic: str, n: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20,
                         "queue.buffering.max.messages": 2_000_000})
    for i in range(n):
        producer.produce(topic, b"1", f"key-{i:07d}".encode())
        if i % 100_000 == 0:
            producer.poll(0)
    producer.flush(120)


def run_level(opts: Any, workdir: Path, log) -> dict[str, Any]:
    sizes = (10_000, 50_000) if opts.quick else (100_000, 1_000_000)
    tables = []
    with noida(workdir) as bootstrap:
        for size in sizes:
            input_topic = f"bench-keys-{uuid.uuid4().hex[:8]}"
            ensure_topics(bootstrap, {input_topic: 1})
            t0 = time.perf_counter()
            _produce_keys(bootstrap, input_topic, size)
            log(f"  produced {size:,} distinct keys in {time.perf_counter() - t0:.1f} s")
            build = {k: Series(f"build, {k}") for k in KINDS}
            restore = {k: Series(f"restore from changelog, {k}") for k in KINDS}
            store_only = {k: Series(f"store-only load, {k} (bench_stores)") for k in KINDS}
            order = [s for k in KINDS for s in (build[k], restore[k], store_only[k])]
            pending: dict[str, dict[str, Any]] = {}

            def one_run(s: Series, index: int, size=size, input_topic=input_topic,
                        build=build, restore=restore, store_only=store_only,
                        pending=pending) -> None:
                kind = next(k for k in KINDS if s.system.endswith(k) or f", {k} " in s.system)
                if s is store_only[kind]:
                    r = store_only_child("load", KINDS[kind], size)
                    s.runs.append({"rate": size / r["load_s"], "seconds": r["load_s"],
                                   "peak_rss_mb": r["peak_rss_mb"], "startup_s": None})
                    log(f"    run {index + 1} {s.system:<44} {r['load_s']:7.2f} s")
                    return
                if s is build[kind]:
                    tag = uuid.uuid4().hex[:8]
                    output = f"bench-counts-{tag}"
                    ensure_topics(bootstrap, {output: 3})
                    app_id = f"bench-state-{tag}"
                    watcher = VisibleEndWatcher(bootstrap, output, 3, size)
                    watcher.start()
                    state_dir = workdir / f"state-{tag}"
                    child = spawn(python_here(), CHILD, {
                        "phase": "build", "bootstrap": bootstrap, "input": input_topic,
                        "output": output, "store_type": kind, "app_id": app_id,
                        "state_dir": str(state_dir)})
                    watcher.join(opts.timeout * 3)
                    watcher.stop()
                    result = child.stop_and_result(180)
                    watcher.join(60)
                    if watcher.done_at is None or result.get("first_at") is None:
                        raise RunFailed(f"build: {watcher.seen:,} of {size:,} counts visible")
                    seconds = watcher.done_at - result["first_at"]
                    result.update(rate=size / seconds, seconds=seconds)
                    s.runs.append(result)
                    pending[kind] = {"app_id": app_id, "output": output}
                    log(f"    run {index + 1} {s.system:<44} {seconds:7.2f} s")
                    return
                made = pending.pop(kind, None)
                if made is None:
                    raise RunFailed("no store was built in this run")
                state_dir = workdir / f"state-restore-{uuid.uuid4().hex[:8]}"
                result = spawn(python_here(), CHILD, {
                    "phase": "restore", "bootstrap": bootstrap, "input": input_topic,
                    "output": made["output"], "store_type": kind, "app_id": made["app_id"],
                    "state_dir": str(state_dir), "timeout": opts.timeout * 3, "expected": size,
                }).result(opts.timeout * 3 + 120)
                if not result.get("restore_s"):
                    raise RunFailed(f"restore: RUNNING with {result.get('keys')} of {size:,} "
                                    f"keys after {opts.timeout * 3:g} s")
                result["spawn_to_restored_s"] = result.pop("startup_s", None)
                result.update(rate=size / result["restore_s"], seconds=result["restore_s"])
                s.runs.append(result)
                log(f"    run {index + 1} {s.system:<44} {result['restore_s']:7.2f} s "
                    f"({result['keys']:,} keys)")

            interleave(order, opts.runs, one_run, 10 * opts.slow_cap, log)
            summaries = []
            for s in order:
                summary = s.summary(None)
                seconds = [r["seconds"] for r in s.runs]
                if seconds:
                    summary["seconds_median"] = sorted(seconds)[len(seconds) // 2]
                    summary["note"] = (f"{summary['seconds_median']:.2f} s"
                                       + (f"; {summary['note']}" if summary["note"] else ""))
                summaries.append(summary)
            tables.append({"workload": f"state-{size}", "keys": size, "unit": "keys",
                           "description": f"a count store of {size:,} keys (1 partition); "
                                          "keys/s and, in the note, the median seconds",
                           "systems": summaries})
    return {"tables": tables}
