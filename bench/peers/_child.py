"""What every benchmark child process shares (peer venvs import this too: no streamnb here).

The harness spawns one process per measured run, so each peak RSS is that run's own, and
passes the spawn instant as ``BENCH_T0`` (``time.perf_counter()``, CLOCK_MONOTONIC on
Linux, comparable across processes on one machine). The child prints one JSON line last.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import sys
import time
from typing import Any


def spawned_at() -> float:
    """When the harness spawned this process (perf_counter clock)."""
    return float(os.environ.get("BENCH_T0", time.perf_counter()))


def peak_rss_mb() -> float:
    """Peak resident set size of this process's own memory so far, in MB.

    VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across fork and exec, so a
    child spawned by a large harness would report at least the harness's size."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(path: str) -> Any:
    with open(path, "rb") as fh:
        return pickle.load(fh)


def spec() -> dict[str, Any]:
    """The run's parameters: one JSON object as the only argument."""
    return json.loads(sys.argv[1])


def report(**fields: Any) -> None:
    """The result line the harness reads: the fields plus this process's peak RSS."""
    fields.setdefault("peak_rss_mb", peak_rss_mb())
    # Straight to fd 1: some peers (Faust) replace sys.stdout with a logger.
    os.write(1, ("BENCH-RESULT " + json.dumps(fields) + "\n").encode())


class FirstSeen:
    """Notes the instant the first record reaches the application (one check per call)."""

    __slots__ = ("at",)

    def __init__(self) -> None:
        self.at: float | None = None

    def __call__(self) -> None:
        if self.at is None:
            self.at = time.perf_counter()


def wait_for_stop() -> None:
    """Block until the harness says stop (a line on stdin, or stdin closed)."""
    sys.stdin.readline()


def exit_on_stop(fields) -> None:
    """For apps that own the main thread: when the harness says stop, report ``fields()``
    and leave at once (the app's shutdown is not part of the measurement)."""
    import threading

    def watch() -> None:
        wait_for_stop()
        report(**fields())
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()
