"""streamnb's benchmark scoreboard: one command, every level, tables and a JSON file.

    python bench/run.py                  # everything, 3 interleaved runs (takes a while)
    python bench/run.py --quick          # small data, 1 run: a smoke test
    python bench/run.py --only e2e --runs 5
    python bench/run.py --no-peers       # streamnb and the references only
    python bench/run.py --only e2e --systems faust   # one peer beside the reference

Levels: in-process (no broker), e2e (one noida-db broker started here), scaling
(partitions x app instances), state (build and restore a store from its changelog).
Peers (Bytewax, streamz, Faust, Quix Streams) are installed on first use into their own
venvs under bench/.venvs/ and run there as subprocesses; they are never streamnb
dependencies. Results go to bench/results/<UTC date and time>.json. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE / "peers"), str(HERE.parent)]

from _harness import load_average, print_table  # noqa: E402

LEVELS = ("in-process", "e2e", "scaling", "state")
TITLES = {
    "in-process": "in process, no broker",
    "e2e": "end to end on one noida-db broker",
    "scaling": "scaling: streamnb at-least-once word count, partitions x instances",
    "state": "state: build a count store, then restore it from its changelog",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="streamnb benchmarks beside the peers")
    parser.add_argument("--quick", action="store_true",
                        help="small data and 1 run (a smoke test, figures not comparable)")
    parser.add_argument("--only", choices=LEVELS, action="append",
                        help="run only this level (repeatable)")
    parser.add_argument("--runs", type=int, default=None,
                        help="interleaved runs per system (default 3, 1 with --quick)")
    parser.add_argument("--no-peers", dest="peers", action="store_false",
                        help="skip Bytewax, streamz, Faust and Quix Streams")
    parser.add_argument("--systems", action="append", default=[], metavar="WORD",
                        help="e2e: only systems whose name contains WORD; in process: "
                             "only those peers (repeatable); references always run")
    parser.add_argument("--timeout", type=float, default=None,
                        help="end-to-end seconds per run before a partial figure is taken "
                             "(default 90, 30 with --quick)")
    parser.add_argument("--peer-timeout", type=float, default=600.0,
                        help="seconds an in-process run may take at most")
    parser.add_argument("--slow-cap", type=float, default=120.0,
                        help="a system whose run took longer than this runs only once")
    parser.add_argument("--out", type=Path, default=HERE / "results",
                        help="directory for the JSON file")
    return parser


def _machine() -> dict:
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "load_average_1m_at_start": load_average()}


def main(argv: list[str] | None = None) -> int:
    opts = _parser().parse_args(argv)
    if opts.runs is None:
        opts.runs = 1 if opts.quick else 3
    if opts.runs < 1:
        raise SystemExit("--runs must be at least 1")
    if opts.timeout is None:
        opts.timeout = 30.0 if opts.quick else 90.0
    levels = opts.only or list(LEVELS)
    started = dt.datetime.now(dt.timezone.utc)
    report = {"started_utc": started.isoformat(timespec="seconds"), "quick": opts.quick,
              "runs": opts.runs, "peers": opts.peers, "machine": _machine(), "levels": {}}
    lines: list[str] = []

    def out(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    out(f"streamnb bench, {started:%Y-%m-%d %H:%M} UTC, {opts.runs} interleaved run(s)"
        f"{' (quick)' if opts.quick else ''}; {report['machine']['cpus']} CPUs, "
        f"load average {report['machine']['load_average_1m_at_start']} at start")
    workdir = Path(tempfile.mkdtemp(prefix="streamnb-bench-"))
    try:
        for level in levels:
            out(f"\n== {TITLES[level]} ==")
            load0, t0 = load_average(), time.perf_counter()
            module = __import__(f"_level_{level.replace('-', '')}")
            result = module.run_level(opts, workdir, out)
            result.update(load_average_1m_before=load0, load_average_1m_after=load_average(),
                          wall_s=round(time.perf_counter() - t0, 1))
            report["levels"][level] = result
            for table in result["tables"]:
                print_table(f"{TITLES[level]}: {table['description']}", table["unit"],
                            table["systems"], out)
            out(f"  (load average {load0} before this level, {result['load_average_1m_after']}"
                f" after; {result['wall_s']:.0f} s)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report["machine"]["load_average_1m_at_end"] = load_average()
    report["output"] = lines
    opts.out.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if opts.quick else ""
    path = opts.out / f"{started:%Y-%m-%dT%H%M%SZ}{suffix}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    out(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
