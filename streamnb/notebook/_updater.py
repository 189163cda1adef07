"""One background updater thread per app: reads metrics and stores, refreshes the views.

Why a single thread per app, off the processing path: the stream threads only bump counters;
this thread reads them at most ``MAX_RATE`` times per second and pushes the result into widget
traits (a comm message each). Refresh rates adapt to cost: each view waits at least 20x the
CPU its last refresh took (5 s at most), and the thread as a whole sleeps long enough to stay
under ``CPU_BUDGET`` (3 %) of one core, so live views cannot take more than a few percent of
the interpreter away from processing, whatever the store sizes.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import apps

__all__ = ["Target", "Snapshot", "Updater", "updater_for", "MAX_RATE", "CPU_BUDGET"]

MAX_RATE = 4.0  # refreshes per second, at most
CPU_BUDGET = 0.03  # share of one core the updater thread may use, all views together
_COST_FACTOR = 20.0  # a view waits >= this many times its last refresh cost
_MAX_BACKOFF = 5.0  # ... but never longer than this (seconds) between refreshes
_HISTORY = 120  # points kept for sparklines (30 s at 4/s)
_TERMINAL = ("NOT_RUNNING", "ERROR", "PENDING_ERROR")


class Target:
    """What the views follow: a notebook app (its current instance, across restarts) or a
    ``KafkaStreams`` made by hand."""

    def __init__(self, obj: Any) -> None:
        if isinstance(obj, Target):
            obj = obj.source
        if not isinstance(obj, apps.NotebookApp):
            obj = apps.find_app_for_streams(obj) or obj
        if not isinstance(obj, apps.NotebookApp) and not hasattr(obj, "metrics"):
            raise TypeError(
                f"live views follow a KafkaStreams or a notebook app, got {type(obj).__name__}")
        self.source = obj

    @property
    def app(self) -> apps.NotebookApp | None:
        return self.source if isinstance(self.source, apps.NotebookApp) else None

    @property
    def streams(self) -> Any:
        return self.source.streams if self.app is not None else self.source

    @property
    def topology(self) -> Any:
        if self.app is not None:
            return self.app.running_topology or self.app.topology
        return getattr(self.source, "topology", None)

    @property
    def name(self) -> str:
        if self.app is not None:
            return self.app.app_id
        config = getattr(self.source, "config", None)
        app_id = None
        if isinstance(config, dict):
            app_id = config.get("application.id")
        return str(app_id or getattr(self.source, "application_id", None) or "app")

    @property
    def key(self) -> Any:
        return ("app", self.app.app_id) if self.app is not None else ("streams", id(self.source))


@dataclass
class Snapshot:
    """What one refresh sees: taken once per tick and shared by every view of the app."""

    time: float
    state: str
    streams: Any
    metrics: dict[str, Any]
    # (monotonic time, records/s, latency ms) for sparklines
    history: list[tuple[float, float, float]] = field(default_factory=list)


class View(Protocol):
    min_interval: float

    def refresh(self, snap: Snapshot) -> None: ...


def _state_name(streams: Any) -> str:
    if streams is None:
        return "NOT_STARTED"
    state = streams.state()
    return str(getattr(state, "name", state)).upper()


def _latency_ms(metrics: dict[str, Any]) -> float:
    threads = metrics.get("threads") or {}
    lasts = [t.get("record-e2e-latency-last", 0.0) for t in threads.values()]
    if lasts:
        return float(max(lasts))
    return float(metrics.get("record-e2e-latency-avg", 0.0) or 0.0)


class Updater:
    """Refreshes registered views from one daemon thread while the app runs."""

    def __init__(self, target: Target, rate: float = MAX_RATE) -> None:
        if not 0 < rate <= MAX_RATE:
            raise ValueError(f"rate must be in (0, {MAX_RATE}] refreshes per second, got {rate}")
        self.target = target
        self.interval = 1.0 / rate
        self._views: list[tuple[Any, list[float]]] = []  # (view, [next_due])
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._history: deque[tuple[float, float, float]] = deque(maxlen=_HISTORY)
        self._last_total: tuple[float, float] | None = None
        self._streams_seen: Any = None
        self.ticks = 0
        self.cpu_used = 0.0  # seconds of CPU this updater's thread spent refreshing
        self.errors: list[BaseException] = []
        if target.app is not None:
            target.app.on_change(self._on_app_change)

    # -- views ------------------------------------------------------------------------------
    def add(self, view: Any) -> None:
        with self._lock:
            self._views.append((view, [0.0]))
        self.ensure_running()

    def remove(self, view: Any) -> None:
        with self._lock:
            self._views = [(v, d) for v, d in self._views if v is not view]

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- lifecycle --------------------------------------------------------------------------
    def _on_app_change(self, app: Any, event: str) -> None:
        if event in ("started", "restarted"):
            self.ensure_running()
        elif event == "stopped":
            self.refresh_now()

    def ensure_running(self) -> None:
        """Start the thread if the app has an instance that is not finished."""
        if self.running:
            return
        streams = self.target.streams
        if streams is None or _state_name(streams) in _TERMINAL:
            self.refresh_now()  # show the final (or not-started) state once
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"streamnb-widgets-{self.target.name}")
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # -- refreshing -------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        streams = self.target.streams
        if streams is not self._streams_seen:  # a restart: counters start again
            self._streams_seen, self._last_total = streams, None
            self._history.clear()
        state = _state_name(streams)
        metrics: dict[str, Any] = {}
        if streams is not None and state != "CREATED":
            try:
                metrics = dict(streams.metrics())
            except Exception as exc:  # a closing app may refuse; show the state anyway
                self.errors.append(exc)
        now = time.monotonic()
        total = float(metrics.get("process-total", 0) or 0)
        if self._last_total is not None and now > self._last_total[0]:
            rate = max(0.0, (total - self._last_total[1]) / (now - self._last_total[0]))
            self._history.append((now, rate, _latency_ms(metrics)))
        self._last_total = (now, total)
        return Snapshot(now, state, streams, metrics, list(self._history))

    def refresh_now(self, force: bool = True) -> Snapshot:
        """One refresh of every view, due or not (``force``), on the calling thread."""
        snap = self.snapshot()
        with self._lock:
            views = list(self._views)
        for view, due in views:
            if not force and snap.time < due[0]:
                continue
            # The cost is this thread's CPU time, not wall time: waiting for the GIL or for
            # a stream thread's lock takes nothing from processing, and counting it would
            # freeze views exactly when the machine is busy.
            started = time.thread_time()
            try:
                view.refresh(snap)
            except Exception as exc:  # one broken view must not stop the others
                self.errors.append(exc)
                if len(self.errors) > 100:
                    del self.errors[:50]
            cost = time.thread_time() - started
            due[0] = snap.time + max(getattr(view, "min_interval", 0.0),
                                     min(cost * _COST_FACTOR, _MAX_BACKOFF))
        self.ticks += 1
        return snap

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            cpu_started = time.thread_time()
            snap = self.refresh_now(force=False)
            if snap.state in _TERMINAL or snap.streams is None:
                self.refresh_now()  # the final numbers, then stop
                return
            self._stop.wait(self._pause(time.thread_time() - cpu_started,
                                        time.monotonic() - started))

    def _pause(self, cpu: float, elapsed: float) -> float:
        """Seconds to wait before the next tick: the rate's interval, stretched so that this
        thread's CPU stays under ``CPU_BUDGET`` of one core (the stream threads share the
        interpreter with it), never beyond ``_MAX_BACKOFF``."""
        self.cpu_used += cpu
        wanted = max(self.interval, min(cpu / CPU_BUDGET, _MAX_BACKOFF))
        return max(0.0, wanted - elapsed)


_UPDATERS: dict[Any, Updater] = {}
_UPDATERS_LOCK = threading.Lock()


def updater_for(obj: Any) -> Updater:
    """The one updater of an app (or of a hand-made KafkaStreams), created on first use."""
    target = Target(obj)
    with _UPDATERS_LOCK:
        updater = _UPDATERS.get(target.key)
        if updater is None:
            updater = _UPDATERS[target.key] = Updater(target)
        return updater


def stop_all() -> None:
    """Stop every updater thread (tests, extension unload)."""
    with _UPDATERS_LOCK:
        updaters = list(_UPDATERS.values())
        _UPDATERS.clear()
    for updater in updaters:
        updater.stop()
        app = updater.target.app
        if app is not None:
            app.remove_listener(updater._on_app_change)
