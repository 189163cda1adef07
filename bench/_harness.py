"""Spawning measured runs, summarising them, and printing tables (bench/run.py's plumbing)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULT_PREFIX = "BENCH-RESULT "


class RunFailed(Exception):
    """A child run ended without a result line; the message carries its output's tail."""


@dataclass
class Child:
    """A running child process: its stdin is the stop signal, its output goes to files."""

    proc: subprocess.Popen
    out_path: Path
    err_path: Path

    def stop_and_result(self, timeout: float = 60.0) -> dict[str, Any]:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(b"stop\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError):
                pass
        return self.result(timeout)

    def result(self, timeout: float) -> dict[str, Any]:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # our own child, by its handle
            self.proc.wait()
            for path in (self.out_path, self.err_path):
                path.unlink(missing_ok=True)
            raise RunFailed(f"timed out after {timeout:g} s") from None
        out = self.out_path.read_text(errors="replace")
        err = self.err_path.read_text(errors="replace")
        for path in (self.out_path, self.err_path):
            path.unlink(missing_ok=True)
        for line in reversed(out.splitlines()):
            at = line.find(RESULT_PREFIX)  # a peer may print terminal codes before it
            if at >= 0:
                return json.loads(line[at + len(RESULT_PREFIX):])
        tail = " | ".join((err or out).strip().splitlines()[-4:])
        raise RunFailed(f"exit {self.proc.returncode}: {tail[-600:]}")


def spawn(python: Path | str, script: Path, spec: dict[str, Any]) -> Child:
    """Start ``script`` under ``python`` with ``spec``; BENCH_T0 marks the spawn instant."""
    out = Path(tempfile.mkstemp(prefix="bench-out-")[1])
    err = Path(tempfile.mkstemp(prefix="bench-err-")[1])
    env = dict(os.environ, BENCH_T0=repr(time.perf_counter()), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([str(python), str(script), json.dumps(spec)], stdin=subprocess.PIPE,
                            stdout=out.open("wb"), stderr=err.open("wb"), env=env,
                            cwd=str(HERE.parent))
    return Child(proc, out, err)


def run_to_end(python: Path | str, script: Path, spec: dict[str, Any],
               timeout: float) -> dict[str, Any]:
    """Spawn a child that ends by itself and return its result."""
    return spawn(python, script, spec).result(timeout)


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


@dataclass
class Series:
    """All runs of one system on one workload, and what the table says about them."""

    system: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    note: str = ""
    skipped: str = ""  # why this system has no figure at all

    def rates(self) -> list[float]:
        return [r["rate"] for r in self.runs if r.get("rate") is not None]

    def summary(self, reference: Series | None) -> dict[str, Any]:
        rates = self.rates()
        out: dict[str, Any] = {"system": self.system, "runs": self.runs, "note": self.note}
        if self.errors:
            out["errors"] = self.errors
        if self.skipped:
            out["skipped"] = self.skipped
        if rates:
            out["median"] = statistics.median(rates)
            out["min"], out["max"] = min(rates), max(rates)
            for key in ("startup_s", "peak_rss_mb"):
                values = [r[key] for r in self.runs if r.get(key) is not None]
                out[f"{key}_median"] = statistics.median(values) if values else None
            ref = reference.rates() if reference is not None else []
            out["ratio"] = out["median"] / statistics.median(ref) if ref else None
        return out


def interleave(series: list[Series], runs: int, one_run: Callable[[Series, int], None],
               slow_cap: float, log: Callable[[str], None]) -> None:
    """Runs A, B, C, A, B, C ...; a system whose run took over ``slow_cap`` s runs once."""
    slow: set[str] = set()
    for index in range(runs):
        for s in series:
            if s.skipped or s.system in slow:
                continue
            started = time.perf_counter()
            try:
                one_run(s, index)
            except RunFailed as exc:
                s.errors.append(str(exc))
                log(f"    {s.system}: run {index + 1} failed: {exc}")
                if time.perf_counter() - started > slow_cap:
                    slow.add(s.system)  # a slow failure is not retried
                continue
            took = time.perf_counter() - started
            if took > slow_cap and index + 1 < runs:  # noqa: SIM102
                slow.add(s.system)
                s.note = (s.note + "; " if s.note else "") + (
                    f"1 run only (it took {took:.0f} s > {slow_cap:.0f} s)")


def _fmt_rate(value: float) -> str:
    return f"{value:,.0f}"


def print_table(title: str, unit: str, summaries: list[dict[str, Any]],
                out: Callable[[str], None] = print) -> None:
    out("")
    out(title)
    header = (f"  {'system':<42}{unit + '/s':>12}{'min-max':>22}{'ratio':>7}"
              f"{'start s':>9}{'RSS MB':>8}{'runs':>5}  note")
    out(header)
    out("  " + "-" * (len(header) - 2))
    for s in summaries:
        if "median" not in s:
            why = s.get("skipped") or "; ".join(s.get("errors", []))[:200] or "no result"
            out(f"  {s['system']:<42}{'-':>12}{'':>22}{'':>7}{'':>9}{'':>8}{0:>5}  {why}")
            continue
        span = f"{_fmt_rate(s['min'])}-{_fmt_rate(s['max'])}"
        ratio = "" if s.get("ratio") is None else f"{s['ratio']:.2f}"
        start = "" if s.get("startup_s_median") is None else f"{s['startup_s_median']:.2f}"
        rss = "" if s.get("peak_rss_mb_median") is None else f"{s['peak_rss_mb_median']:.0f}"
        note = s.get("note", "")
        if s.get("errors"):
            note = (note + "; " if note else "") + f"{len(s['errors'])} failed run(s)"
        out(f"  {s['system']:<42}{_fmt_rate(s['median']):>12}{span:>22}{ratio:>7}{start:>9}"
            f"{rss:>8}{len(s['runs']):>5}  {note}")


def python_here() -> str:
    return sys.executable
