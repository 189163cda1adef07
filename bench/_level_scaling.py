"""Level 3, scaling: streamnb's at-least-once word count with 1, 2 and 4 input partitions
and 1 and 2 app instances (processes, one stream thread each, one consumer group) on this
machine. Time runs from the first record any instance consumes to the moment every word's
final count is visible, so duplicate updates after a rebalance cannot end a run early.
Reference: 1 partition, 1 instance. Peak RSS is summed over the instances."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import _data
from _broker import FinalCountWatcher, noida
from _harness import HERE, RunFailed, Series, interleave, python_here, spawn
from bench_e2e import produce_lines

from streamnb.broker import ensure_topics

CHILD = HERE / "_e2e_child.py"
PARTITIONS = (1, 2, 4)
INSTANCES = (1, 2)


def run_level(opts: Any, workdir: Path, log) -> dict[str, Any]:
    lines, facts = _data.generate("wordcount", opts.quick)
    words = facts["units"]
    final = Counter(word for line in lines for word in line.lower().split())
    series = [Series(f"{p} partition{'s' if p > 1 else ''}, {n} instance{'s' if n > 1 else ''}")
              for n in INSTANCES for p in PARTITIONS]
    shape = {s.system: (p, n) for s, (n, p) in
             zip(series, [(n, p) for n in INSTANCES for p in PARTITIONS])}
    with noida(workdir) as bootstrap:
        inputs = {}
        for p in PARTITIONS:
            inputs[p] = f"bench-lines-{p}p-{uuid.uuid4().hex[:8]}"
            ensure_topics(bootstrap, {inputs[p]: p})
            produce_lines(bootstrap, inputs[p], lines)
        log(f"  noida-db at {bootstrap}; {len(lines):,} lines in topics of "
            f"{', '.join(map(str, PARTITIONS))} partitions")

        def one_run(s: Series, index: int) -> None:
            partitions, instances = shape[s.system]
            tag = uuid.uuid4().hex[:8]
            output = f"bench-out-{tag}"
            ensure_topics(bootstrap, {output: partitions})
            watcher = FinalCountWatcher(bootstrap, output, partitions, final)
            watcher.start()
            children = []
            for i in range(instances):
                state_dir = workdir / f"state-{tag}-{i}"
                children.append(spawn(python_here(), CHILD, {
                    "system": "streamnb", "guarantee": "at_least_once",
                    "bootstrap": bootstrap, "input": inputs[partitions], "output": output,
                    "app_id": f"bench-scale-{tag}", "state_dir": str(state_dir)}))
            watcher.join(opts.timeout)
            watcher.stop()
            results = [child.stop_and_result() for child in children]
            firsts = [r["first_at"] for r in results if r.get("first_at") is not None]
            if watcher.done_at is None or not firsts:
                raise RunFailed(f"final counts not all visible in {opts.timeout:g} s "
                                f"({watcher.seen:,} updates seen)")
            first = min(firsts)
            run = {"rate": words / (watcher.done_at - first),
                   "startup_s": min(r["startup_s"] for r in results if r.get("startup_s")),
                   "peak_rss_mb": sum(r["peak_rss_mb"] for r in results),
                   "updates_seen": watcher.seen, "instances": results}
            s.runs.append(run)
            log(f"    run {index + 1} {s.system:<28} {run['rate']:>10,.0f} words/s "
                f"({watcher.seen:,} updates seen)")

        interleave(series, opts.runs, one_run, opts.slow_cap, log)
    table = {"workload": "wordcount-scaling", **facts,
             "description": facts["description"] + ", streamnb at_least_once",
             "systems": [s.summary(series[0]) for s in series]}
    return {"tables": [table]}
