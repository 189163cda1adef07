"""Level 1, in process (no broker): streamnb's engine, the hand-written dict loop (the
reference: plain Python's practical limit), Bytewax and streamz where they can express the
workload. Every run is its own process reading the same pickled records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import _data
from _harness import HERE, RunFailed, Series, interleave, python_here, run_to_end
from _venvs import ensure_venv

CHILD = HERE / "_inprocess_child.py"
PEERS = HERE / "peers"
# peer -> (script, workloads it can express; the others say why in the script's docstring)
PEER_SCRIPTS = {
    "bytewax": (PEERS / "inproc_bytewax.py", {"wordcount", "windowed", "stream_table"}),
    "streamz": (PEERS / "inproc_streamz.py", {"wordcount"}),
}
CANNOT = {
    ("bytewax", "stream_stream"): "no interval join (join_window joins within one window)",
    ("streamz", "windowed"): "no event-time windows / grace",
    ("streamz", "stream_table"): "no keyed join (zip/combine_latest are not keyed)",
    ("streamz", "stream_stream"): "no keyed windowed join",
}
NOTES = {
    ("bytewax", "windowed"): "emits once per closed window, not per update",
    ("bytewax", "stream_table"): "table rows go through the same timed dataflow",
}


def run_level(opts: Any, workdir: Path, log) -> dict[str, Any]:
    tables = []
    workloads = ["wordcount", "windowed", "stream_table", "stream_stream"]
    for workload in workloads:
        path, facts = _data.write(workload, opts.quick, workdir)
        log(f"  {facts['description']}")
        series = [Series("python dict loop (reference)"), Series("streamnb engine")]
        pythons: dict[str, Any] = {"python dict loop (reference)": python_here(),
                                   "streamnb engine": python_here()}
        scripts = {"python dict loop (reference)": (CHILD, "dict"),
                   "streamnb engine": (CHILD, "streamnb")}
        for peer, (script, can) in PEER_SCRIPTS.items():
            s = Series(peer)
            if not opts.peers or (opts.systems and peer not in opts.systems):
                continue
            if workload not in can:
                s.skipped = f"cannot express it: {CANNOT[(peer, workload)]}"
            else:
                python, why = ensure_venv(peer, HERE / ".venvs" / f"{peer}-pip.log")
                if python is None:
                    s.skipped = why
                pythons[s.system] = python
                scripts[s.system] = (script, peer)
                s.note = NOTES.get((peer, workload), "")
            series.append(s)

        def one_run(s: Series, index: int, scripts=scripts, pythons=pythons,
                    workload=workload, path=path, facts=facts) -> None:
            script, system = scripts[s.system]
            try:
                result = run_to_end(pythons[s.system], script,
                                    {"system": system, "workload": workload, "data": str(path)},
                                    timeout=opts.peer_timeout)
            except RunFailed as exc:
                if "timed out" in str(exc):  # an upper bound is still a figure
                    s.skipped = (f"did not finish {facts['units']:,} {facts['unit']} in "
                                 f"{opts.peer_timeout:g} s: under "
                                 f"{facts['units'] / opts.peer_timeout:,.0f} {facts['unit']}/s")
                raise
            result["rate"] = facts["units"] / result["seconds"]
            s.runs.append(result)
            log(f"    run {index + 1} {s.system:<30} {result['rate']:>12,.0f} "
                f"{facts['unit']}/s  ({result['outputs']} outputs)")

        interleave(series, opts.runs, one_run, opts.slow_cap, log)
        reference = series[0]
        tables.append({"workload": workload, **facts,
                       "systems": [s.summary(reference) for s in series]})
        path.unlink(missing_ok=True)
    return {"tables": tables}
