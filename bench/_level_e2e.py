"""Level 2, end to end on one noida-db broker started here: the seed word count (100,000
lines, 3 partitions) from the first record the application consumes to the last of its
1,000,000 count updates visible (read_committed) in its output topic.

Reference: a plain confluent-kafka consume-count-produce loop (no repartition). streamnb
(at-least-once, exactly-once v2) runs bench_e2e.py's topology and settings; peers run in
their venvs. A run still short of all updates after --timeout s gives a partial figure:
updates visible / seconds since the first record (marked "partial").

The end is seen without reading the output while the clock runs (``VisibleEndWatcher``:
the broker's last stable offsets are polled, the output is read once at the end), so no
consumer in this process competes with the system measured for the two cores."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import _data
from _broker import VisibleEndWatcher, noida
from _harness import HERE, Series, interleave, python_here, spawn
from _venvs import ensure_venv
from bench_e2e import PARTITIONS, produce_lines

from streamnb.broker import ensure_topics

CHILD = HERE / "_e2e_child.py"
PEERS = HERE / "peers"

# system -> (venv or None for this python, script, spec extras, note)
SYSTEMS: dict[str, tuple[str | None, Path, dict[str, Any], str]] = {
    "plain confluent-kafka loop (reference)": (None, CHILD, {"system": "plain"},
                                               "dict count, no repartition"),
    "streamnb at_least_once": (None, CHILD, {"system": "streamnb",
                                             "guarantee": "at_least_once"}, ""),
    "streamnb exactly_once_v2": (None, CHILD, {"system": "streamnb",
                                               "guarantee": "exactly_once_v2"}, ""),
    "quix streams at-least-once": ("quix", PEERS / "e2e_quix.py",
                                   {"guarantee": "at-least-once"}, "group_by repartition"),
    "quix streams exactly-once": ("quix", PEERS / "e2e_quix.py",
                                  {"guarantee": "exactly-once"}, "group_by repartition"),
    "bytewax kafka connector": ("bytewax", PEERS / "e2e_bytewax.py", {},
                                "1 worker, no repartition, no recovery"),
    "faust": ("faust", PEERS / "e2e_faust.py", {},
              "repartition topic, memory table, broker_max_poll_records=500"),
}


def run_level(opts: Any, workdir: Path, log) -> dict[str, Any]:
    lines, facts = _data.generate("wordcount", opts.quick)
    words = facts["units"]
    series: list[Series] = []
    pythons: dict[str, Any] = {}
    for name, (venv, _script, _extra, note) in SYSTEMS.items():
        if venv is not None and not opts.peers:
            continue
        if (opts.systems and "(reference)" not in name
                and not any(word in name for word in opts.systems)):
            continue
        s = Series(name, note=note)
        if venv is None:
            pythons[name] = python_here()
        else:
            python, why = ensure_venv(venv, HERE / ".venvs" / f"{venv}-pip.log")
            pythons[name] = python
            s.skipped = why
        series.append(s)

    with noida(workdir) as bootstrap:
        input_topic = f"bench-lines-{uuid.uuid4().hex[:8]}"
        ensure_topics(bootstrap, {input_topic: PARTITIONS})
        t0 = time.perf_counter()
        produce_lines(bootstrap, input_topic, lines)
        log(f"  noida-db at {bootstrap}; produced {len(lines):,} lines ({words:,} words) to "
            f"{PARTITIONS} partitions in {time.perf_counter() - t0:.1f} s")

        def one_run(s: Series, index: int) -> None:
            _venv, script, extra, _note = SYSTEMS[s.system]
            tag = uuid.uuid4().hex[:8]
            output = f"bench-out-{tag}"
            topics = {output: PARTITIONS}
            if s.system == "faust":  # its repartition topic, co-partitioned with its table
                topics[f"bench-{tag}-words"] = PARTITIONS
            ensure_topics(bootstrap, topics)
            watcher = VisibleEndWatcher(bootstrap, output, PARTITIONS, words)
            watcher.start()
            state_dir = workdir / f"state-{tag}"
            state_dir.mkdir()
            child = spawn(pythons[s.system], script, {
                "bootstrap": bootstrap, "input": input_topic, "output": output,
                "expected": words, "timeout": opts.timeout, "app_id": f"bench-{tag}",
                "state_dir": str(state_dir), **extra})
            watcher.join(opts.timeout)
            watcher.stop()
            stopped = time.perf_counter()
            result = child.stop_and_result()
            watcher.join(60)
            first = result.get("first_at")
            if first is None:
                result["rate"] = None
                s.errors.append(f"run {index + 1}: no record consumed in {opts.timeout:g} s")
                log(f"    run {index + 1} {s.system:<40} no record consumed")
                return
            if watcher.done_at is not None:
                result["rate"] = words / (watcher.done_at - first)
                result["partial"] = False
            else:
                result["rate"] = watcher.seen / (stopped - first)
                result["partial"] = True
                if "partial" not in s.note:
                    s.note = (s.note + "; " if s.note else "") + (
                        f"partial: {watcher.seen:,} of {words:,} updates in the "
                        f"{opts.timeout:g} s timeout")
            result["visible"] = watcher.seen
            s.runs.append(result)
            log(f"    run {index + 1} {s.system:<40} {result['rate']:>10,.0f} words/s "
                f"(start-up {result.get('startup_s') or 0:.2f} s"
                f"{', partial' if result['partial'] else ''})")

        interleave(series, opts.runs, one_run, opts.slow_cap, log)
    table = {"workload": "wordcount", **facts, "partitions": PARTITIONS,
             "description": f"{facts['description']}, {PARTITIONS} partitions",
             "systems": [s.summary(series[0]) for s in series]}
    return {"tables": [table]}
