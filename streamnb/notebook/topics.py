"""Produce into topics and tail them, from a notebook: functions and a live tail table.

The Kafka clients live in ``streamnb.runtime.clients`` (this layer imports no
confluent-kafka); here a *target* may also be a notebook app or its app id, so
``produce("wordcount", "streams-plaintext-input", ["hello kafka"])`` writes where the
``wordcount`` app reads, with its serdes.
"""

from __future__ import annotations

import html
import threading
import time
from collections import deque
from typing import Any

from . import apps

__all__ = ["resolve_target", "produce", "tail_frame", "tail_table", "TailTable",
           "stop_all_tails"]

_MAX_RATE = 4.0  # table refreshes per second, at most
_COST_FACTOR = 10.0  # a refresh that cost t waits >= this many times t before the next


class _AppConfigTarget:
    """What the clients need from an app that has no running instance: its broker and
    config (client settings, default serdes)."""

    def __init__(self, app: apps.NotebookApp) -> None:
        from ..runtime import StreamsConfig

        config = dict(app.config)
        config["application.id"] = app.app_id
        self.config = StreamsConfig(config)
        self.broker = None
        servers = self.config["bootstrap.servers"]
        if servers is None:
            from ..broker import embedded_broker

            self.broker = embedded_broker(self.config["state.dir"])
            servers = self.broker.bootstrap_servers
        self.bootstrap_servers = servers


def resolve_target(target: Any) -> Any:
    """A target the runtime clients accept: an app (or app id) becomes its running
    instance, or its configured broker; a ``host:port`` string and None pass through."""
    if isinstance(target, str) and target in apps.registry():
        target = apps.registry()[target]
    if isinstance(target, apps.NotebookApp):
        return target.streams if target.streams is not None else _AppConfigTarget(target)
    if isinstance(target, str) and ":" not in target:
        known = ", ".join(sorted(apps.registry())) or "none"
        raise ValueError(f"{target!r} is neither an app of this kernel (apps: {known}) nor a "
                         "bootstrap address (host:port)")
    return target


def produce(target: Any, topic: str, records: Any, key_serde: Any = None,
            value_serde: Any = None, **options: Any) -> int:
    """Produce ``records`` (a DataFrame, ``{key: value}``, values or (key, value[, ts])
    tuples) into ``topic`` of ``target`` (an app, app id, KafkaStreams, 'host:port' or None
    for the embedded broker); return how many were delivered."""
    from ..runtime.clients import produce as _produce

    return _produce(resolve_target(target), topic, records, key_serde, value_serde, **options)


def tail_frame(target: Any, topic: str, **options: Any) -> Any:
    """``topic`` as a DataFrame (key, value, timestamp, partition, offset): from the
    beginning to its current end by default; see ``streamnb.runtime.clients.tail_frame``."""
    from ..runtime.clients import tail_frame as _tail_frame

    return _tail_frame(resolve_target(target), topic, **options)


_TAILS: list[TailTable] = []
_TAILS_LOCK = threading.Lock()


class TailTable:
    """A live table of a topic's newest records, fed by one background thread.

    The thread owns the consumer; it re-renders the table at most ``rate`` times per second
    and only when records arrived, so a busy topic costs a few small comm messages a second.
    """

    def __init__(self, target: Any, topic: str, rows: int = 20, start: str = "last",
                 key_serde: Any = None, value_serde: Any = None, rate: float = _MAX_RATE
                 ) -> None:
        import ipywidgets

        from ..runtime.clients import TopicTail

        if start not in ("last", "end", "beginning"):
            raise ValueError(f"start must be 'last' (the last `rows` records, then new ones), "
                             f"'end' (new records only) or 'beginning', got {start!r}")
        if not isinstance(rows, int) or rows < 1:
            raise ValueError(f"rows must be a positive int, got {rows!r}")
        if not 0 < rate <= _MAX_RATE:
            raise ValueError(f"rate must be in (0, {_MAX_RATE}] refreshes/s, got {rate}")
        self.topic, self.rows, self.interval = topic, rows, 1.0 / rate
        # Made here, on the caller's thread, so a missing topic or bad target raises in the
        # cell; from here on only the tail thread touches the consumer.
        self._tail = TopicTail(resolve_target(target), topic,
                               from_beginning=start == "beginning",
                               last=rows if start == "last" else None,
                               key_serde=key_serde, value_serde=value_serde)
        self.records: deque[Any] = deque(maxlen=rows)
        self.header = ipywidgets.HTML()
        self.table = ipywidgets.HTML(self._table_html())
        self.stop_button = ipywidgets.Button(description="stop", icon="stop",
                                             layout=ipywidgets.Layout(width="80px"))
        self.stop_button.on_click(lambda _b: self.stop())
        self.widget = ipywidgets.VBox([ipywidgets.HBox([self.header, self.stop_button]),
                                       self.table])
        self.updates = 0
        self.error: BaseException | None = None
        self._rate = 0.0
        self._stop = threading.Event()
        self._set_header("starting")
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"streamnb-tail-{topic}")
        with _TAILS_LOCK:
            _TAILS.append(self)
        self._thread.start()

    # -- state ------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def seen(self) -> int:
        return self._tail.seen

    def frame(self) -> Any:
        """The records shown, oldest first, as a DataFrame."""
        from ..runtime.clients import records_frame

        return records_frame(list(self.records))

    def stop(self, timeout: float = 5.0) -> None:
        """Stop following the topic (the table keeps what it shows)."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def close(self) -> None:
        self.stop()
        self.widget.close()

    # -- rendering --------------------------------------------------------------------------
    def _set_header(self, state: str) -> None:
        text = (f"<b>tail {html.escape(self.topic)}</b> &nbsp; {html.escape(state)} &nbsp; "
                f"<b>records seen</b> {self.seen:,} &nbsp; <b>records/s</b> "
                f"{self._rate:,.0f}")
        if self.error is not None:
            text += (f"<br><span style='color:#c62828'>{type(self.error).__name__}: "
                     f"{html.escape(str(self.error))}</span>")
        if text != self.header.value:
            self.header.value = text

    def _table_html(self) -> str:
        if not self.records:
            return "<i>no records yet</i>"
        cells = []
        for r in reversed(self.records):  # newest first
            when = time.strftime("%H:%M:%S", time.gmtime(r.timestamp / 1000))
            cells.append(f"<tr><td>{html.escape(repr(r.key))}</td>"
                         f"<td>{html.escape(repr(r.value)[:200])}</td><td>{when}</td>"
                         f"<td style='text-align:right'>{r.partition}</td>"
                         f"<td style='text-align:right'>{r.offset}</td></tr>")
        return ("<table class='streamnb-tail' style='border-collapse:collapse;"
                "font-family:monospace;font-size:12px'><tr><th>key</th><th>value</th>"
                "<th>time (UTC)</th><th>partition</th><th>offset</th></tr>"
                + "".join(cells) + "</table>")

    def _render(self) -> None:
        self.table.value = self._table_html()
        self._set_header("following")
        self.updates += 1

    def _run(self) -> None:
        next_due, dirty = 0.0, False
        window_start, window_seen = time.monotonic(), 0
        try:
            while not self._stop.is_set():
                batch = self._tail.poll(min(0.2, self.interval), 2000)
                if batch:
                    self.records.extend(batch)
                    window_seen += len(batch)
                    dirty = True
                now = time.monotonic()
                if now - window_start >= 1.0:
                    self._rate = window_seen / (now - window_start)
                    window_start, window_seen = now, 0
                if dirty and now >= next_due:
                    started = time.thread_time()  # CPU cost, not time spent waiting
                    self._render()
                    cost = time.thread_time() - started
                    next_due = now + max(self.interval, min(cost * _COST_FACTOR, 5.0))
                    dirty = False
        except Exception as exc:  # shown in the widget; the thread ends
            self.error = exc
        finally:
            self._tail.close()
            self._rate = 0.0
            if dirty:
                self.table.value = self._table_html()
            self._set_header("stopped" if self.error is None else "failed")
            with _TAILS_LOCK:
                if self in _TAILS:
                    _TAILS.remove(self)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return (f"<TailTable {self.topic!r}: {'running' if self.running else 'stopped'}, "
                f"{self.seen} records seen>")


def tail_table(target: Any, topic: str, rows: int = 20, start: str = "last",
               key_serde: Any = None, value_serde: Any = None) -> TailTable:
    """Follow ``topic`` in a live table of its newest ``rows`` records (newest first).

    ``start``: 'last' shows the last ``rows`` records at once and then new ones, 'end'
    only new ones, 'beginning' everything from the start. ``.stop()`` or the stop button
    ends it; ``.frame()`` gives the rows shown as a DataFrame.
    """
    return TailTable(target, topic, rows, start, key_serde, value_serde)


def stop_all_tails() -> None:
    """Stop every tail thread (tests, extension unload)."""
    with _TAILS_LOCK:
        tails = list(_TAILS)
    for tail in tails:
        tail.stop()
