"""Live views of a running app: status, topology with counts, store tables, windowed-count
plot, consumer lag, throughput and latency sparklines, and a dashboard of them all.

Every view is refreshed by its app's one updater thread (``_updater``), never from the
processing path, at most four times per second; a view only sends a comm message when what it
shows changed. In a plain terminal (no widget front end) ``dashboard`` returns a text snapshot
instead. ipywidgets and bokeh are imported here, on first use, never by ``import streamnb``.
"""

from __future__ import annotations

import datetime
import html
import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

from ._updater import Snapshot, Target, updater_for
from .frames import state_frame
from .topology_view import TopologyView

__all__ = [
    "StatusView", "LiveTopologyView", "StoreTableView", "WindowedPlotView", "LagView",
    "ThroughputView", "Dashboard", "TextDashboard", "dashboard", "live_topology",
    "store_table", "windowed_plot", "lag_view", "throughput_view", "status_view",
    "in_widget_frontend", "load_bokehjs", "node_counts",
]

_TABLE_CSS = ("border-collapse:collapse;font-family:monospace;font-size:12px")


def in_widget_frontend() -> bool:
    """Whether we run in a Jupyter kernel, where widgets can render."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


_BOKEH_LOADED = False
_BOKEH_LOCK = threading.Lock()


def load_bokehjs(inline: bool | None = None) -> None:
    """Load BokehJS into the page once (``inline=True``, or env ``BOKEH_RESOURCES=inline``,
    embeds it, for machines without internet); a no-op outside a kernel."""
    global _BOKEH_LOADED
    if not in_widget_frontend():
        return
    with _BOKEH_LOCK:
        if _BOKEH_LOADED and inline is None:
            return
        from bokeh.io import output_notebook
        from bokeh.resources import INLINE

        if inline is None:
            inline = os.environ.get("BOKEH_RESOURCES", "").lower() == "inline"
        output_notebook(resources=INLINE if inline else None, hide_banner=True)
        _BOKEH_LOADED = True


def node_counts(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Records per topology node, if the runtime reports them (``node-process-total``)."""
    counts = metrics.get("node-process-total")
    return dict(counts) if isinstance(counts, Mapping) else {}


def _fmt(n: float) -> str:
    return f"{n:,.0f}" if abs(n) >= 100 else f"{n:,.1f}".rstrip("0").rstrip(".")


class _HtmlView:
    """A view that renders HTML into one ``ipywidgets.HTML``, only when it changed."""

    min_interval = 0.25

    def __init__(self, target: Target) -> None:
        import ipywidgets

        self.target = target
        self.html = ipywidgets.HTML()
        self.widget: Any = self.html
        self.updates = 0  # trait changes sent, for tests and benchmarks
        self._lock = threading.Lock()

    def render(self, snap: Snapshot) -> str:
        raise NotImplementedError

    def _set(self, value: str) -> None:
        with self._lock:
            if value != self.html.value:
                self.html.value = value
                self.updates += 1

    def refresh(self, snap: Snapshot) -> None:
        self._set(self.render(snap))

    def text(self, snap: Snapshot) -> str:
        """The plain-text form, for terminals."""
        return ""


_STATE_COLOR = {"RUNNING": "#2e7d32", "REBALANCING": "#f9a825", "CREATED": "#607d8b",
                "PENDING_SHUTDOWN": "#ef6c00", "NOT_RUNNING": "#616161", "ERROR": "#c62828",
                "NOT_STARTED": "#9e9e9e"}


class StatusView(_HtmlView):
    """State, records processed, rate, dropped records, total lag."""

    def _facts(self, snap: Snapshot) -> list[tuple[str, str]]:
        m = snap.metrics
        rate = snap.history[-1][1] if snap.history else 0.0
        facts = [("processed", _fmt(m.get("process-total", 0) or 0)),
                 ("records/s", _fmt(rate)),
                 ("dropped", _fmt(m.get("dropped-records-total", 0) or 0)),
                 ("lag", _fmt(m.get("records-lag-total", 0) or 0)),
                 ("threads", str(m.get("stream-thread-count", 0) or 0))]
        where = getattr(snap.streams, "bootstrap_servers", None)
        if where:
            facts.append(("broker", str(where)))
        return facts

    def render(self, snap: Snapshot) -> str:
        color = _STATE_COLOR.get(snap.state, "#455a64")
        facts = " &nbsp; ".join(f"<b>{html.escape(k)}</b> {html.escape(v)}"
                                for k, v in self._facts(snap))
        return (f'<div class="streamnb-status" style="font-family:sans-serif;font-size:13px">'
                f"<b>{html.escape(self.target.name)}</b> "
                f'<span style="background:{color};color:white;padding:1px 6px;'
                f'border-radius:3px">{html.escape(snap.state)}</span> &nbsp; {facts}</div>')

    def text(self, snap: Snapshot) -> str:
        facts = ", ".join(f"{k} {v}" for k, v in self._facts(snap))
        return f"{self.target.name}: {snap.state} ({facts})"


class LiveTopologyView(_HtmlView):
    """The topology drawing, with records per node when the runtime reports them."""

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self._view: TopologyView | None = None
        self._drawn: Any = None

    def _topology_view(self) -> TopologyView | None:
        topology = self.target.topology
        if topology is None:
            return None
        if topology is not self._drawn:  # a restart with a new topology: lay it out again
            self._view, self._drawn = TopologyView(topology, title=self.target.name), topology
        return self._view

    def render(self, snap: Snapshot) -> str:
        view = self._topology_view()
        if view is None:
            return "<i>no topology yet</i>"
        counts = node_counts(snap.metrics)
        total = snap.metrics.get("process-total")
        view.title = self.target.name + (
            f" - {snap.state}, {_fmt(total)} records processed" if total is not None else
            f" - {snap.state}")
        return view.html(counts or None)


def _sorted_frame(frame: Any, by: str) -> Any:
    if frame.empty:
        return frame
    if by == "value":
        try:
            return frame.sort_values("value", ascending=False, kind="stable")
        except TypeError:
            return frame.assign(_s=frame["value"].astype(str)).sort_values(
                "_s", ascending=False, kind="stable").drop(columns="_s")
    try:
        return frame.sort_values("key", kind="stable")
    except TypeError:
        return frame.assign(_s=frame["key"].astype(str)).sort_values(
            "_s", kind="stable").drop(columns="_s")


class StoreTableView(_HtmlView):
    """A state store as a table: top N by value or by key, with a key filter.

    A refresh reads only what the table shows (``local_store_snapshot``: the stream
    thread's lock is held just to copy the entries; the top N is chosen after), so a big
    store costs little. ``frame`` is the store's whole content, read when asked.
    """

    min_interval = 0.25

    def __init__(self, target: Target, store: str, top: int = 20, by: str = "value") -> None:
        import ipywidgets

        super().__init__(target)
        if by not in ("value", "key"):
            raise ValueError(f"by must be 'value' or 'key', got {by!r}")
        self.store = store
        self.filter = ipywidgets.Text(placeholder="filter keys", description="filter",
                                      layout=ipywidgets.Layout(width="220px"))
        self.order = ipywidgets.Dropdown(options=[("top by value", "value"), ("by key", "key")],
                                         value=by, layout=ipywidgets.Layout(width="140px"))
        self.top = ipywidgets.BoundedIntText(value=top, min=1, max=10_000, description="rows",
                                             layout=ipywidgets.Layout(width="140px"))
        self.widget = ipywidgets.VBox([
            ipywidgets.HTML(f"<b>store {html.escape(store)}</b>"),
            ipywidgets.HBox([self.filter, self.order, self.top]), self.html])
        self.total_rows = 0  # entries in the store at the last refresh
        self.matching_rows = 0  # ... of which match the filter
        self._rows: list[tuple[Any, ...]] | None = None  # (key, value, partition[, ws, we])
        self._windowed = False
        self._full: Any = None  # the whole frame, only for sources without snapshots
        self._streams: Any = None
        self._read_lock = threading.Lock()
        for control in (self.filter, self.order, self.top):
            control.observe(lambda _change: self._rerender(), names="value")

    # -- reading ----------------------------------------------------------------------------
    def _read(self, streams: Any) -> None:
        """Refresh the shown rows from ``streams``: a bounded snapshot when it offers one,
        else its whole store as a frame (test stand-ins, drivers)."""
        locate = getattr(streams, "_local_stores", None)
        from ..runtime.store_views import snapshot as store_snapshot

        with self._read_lock:
            self._streams = streams
            if locate is not None:
                snap = store_snapshot(self.store, locate(self.store), self.top.value,
                                      self.order.value, self.filter.value)
                self._rows, self._windowed = snap.rows, snap.windowed
                self.total_rows, self.matching_rows = snap.total, snap.matched
                self._full = None
                return
            frame = state_frame(streams, self.store)
            self._full, self.total_rows = frame, len(frame)
            self._select_from_full()

    def _select_from_full(self) -> None:
        frame = self._full
        text = self.filter.value.strip().lower()
        if text:
            frame = frame[frame["key"].astype(str).str.lower().str.contains(text, regex=False)]
        self.matching_rows = len(frame)
        shown = _sorted_frame(frame, self.order.value).head(self.top.value)
        self._windowed = "window_start" in shown.columns
        columns = ["key", "value", "partition"] + (
            ["window_start", "window_end"] if self._windowed else [])
        partition = shown["partition"] if "partition" in shown.columns else [None] * len(shown)
        parts = [shown["key"], shown["value"], partition]
        if self._windowed:
            parts += [shown["window_start"], shown["window_end"]]
        self._rows = list(zip(*parts, strict=True)) if len(shown) else []
        self._columns = columns

    @property
    def frame(self) -> Any:
        """The store's whole current content as a DataFrame (read now, on this thread), or
        None before the app runs."""
        streams = self._streams
        if streams is None:
            return None
        if self._full is not None:
            return self._full
        return state_frame(streams, self.store)

    def _table(self) -> Any:
        """The rows the table shows, as a DataFrame (None before the first read)."""
        import pandas as pd

        if self._rows is None:
            return None
        columns = ["key", "value", "partition"] + (
            ["window_start", "window_end"] if self._windowed else [])
        return pd.DataFrame(self._rows, columns=columns)

    # -- rendering --------------------------------------------------------------------------
    def _html(self) -> str:
        rows = self._rows
        if rows is None:
            return "<i>waiting for the app</i>"
        head = ["key", "value"] + (["window start", "window end"] if self._windowed else [])
        head.append("partition")
        cells = []
        for row in rows:
            shown = [row[0], row[1]]
            if self._windowed:
                shown += [_when(row[3]), _when(row[4])]
            shown.append("" if row[2] is None else row[2])
            cells.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in shown)
                         + "</tr>")
        header = "".join(f"<th>{h}</th>" for h in head)
        matched = (f", {self.matching_rows} matching" if self.filter.value.strip() else "")
        return (f'<div style="max-height:420px;overflow:auto">'
                f'<table class="streamnb-store" cellpadding="3" style="{_TABLE_CSS}">'
                f"<thead><tr>{header}</tr></thead><tbody>{''.join(cells)}</tbody></table>"
                f"</div><small>{len(rows)} of {self.total_rows} entries{matched}</small>")

    def _rerender(self) -> None:
        """A control changed: read again with the new choice (cheap), then show it."""
        streams = self._streams
        if streams is not None:
            if self._full is not None:
                self._select_from_full()
            else:
                try:
                    self._read(streams)
                except Exception as exc:  # the app stopped meanwhile: keep what we showed
                    self._set(f"<i>store {html.escape(self.store)} not readable: "
                              f"{html.escape(str(exc))}</i>")
                    return
        self._set(self._html())

    def refresh(self, snap: Snapshot) -> None:
        if snap.streams is None or snap.state in ("CREATED", "NOT_STARTED"):
            self._set("<i>waiting for the app to start</i>")
            return
        try:
            self._read(snap.streams)
        except Exception as exc:  # a store not ready yet (rebalancing): say so, retry later
            self._set(f"<i>store {html.escape(self.store)} not readable yet: "
                      f"{html.escape(str(exc))}</i>")
            return
        self._set(self._html())

    def text(self, snap: Snapshot) -> str:
        self.refresh(snap)
        table = self._table()
        body = "(no data)" if table is None else table.to_string(index=False)
        return f"store {self.store}:\n{body}"


def _when(ms: Any) -> str:
    """Epoch ms as UTC time text (window bounds in tables)."""
    if ms is None:
        return ""
    if hasattr(ms, "strftime"):
        return ms.strftime("%Y-%m-%d %H:%M:%S")
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))


_BUNDLE_MODEL: Any = None


def _bundle_model_class() -> Any:
    """jupyter_bokeh's BokehModel without its per-change patches.

    BokehModel sends each document change as several comm messages that its view must
    receive in order; a view that appears while they flow (the updater starts before the
    output is shown) stays out of step and never updates (seen in JupyterLab 4). Here a
    refresh sends the whole render bundle as one trait change instead, so a late view or a
    reloaded page simply draws the latest plot.
    """
    global _BUNDLE_MODEL
    if _BUNDLE_MODEL is None:
        from jupyter_bokeh import BokehModel

        class BundleBokehModel(BokehModel):
            def _document_patched(self, event: Any) -> None:
                return None

        _BUNDLE_MODEL = BundleBokehModel
    return _BUNDLE_MODEL


class WindowedPlotView:
    """Windowed counts of a window store as a live Bokeh plot: one line per key (the top
    ``keys`` by total), windows on the x axis; the title counts dropped (late) records."""

    min_interval = 0.5

    def __init__(self, target: Target, store: str, keys: int = 8, windows: int = 60) -> None:
        from bokeh.models import ColumnDataSource, Legend, LegendItem, Range1d
        from bokeh.palettes import Category10_10
        from bokeh.plotting import figure
        if windows < 1:
            raise ValueError(f"windows must be >= 1, got {windows}")
        self.target, self.store, self.max_keys = target, store, keys
        self.windows = windows  # window sizes of history read from a running app
        # Explicit ranges, set from the data on every refresh: the model is sent whole to the
        # front end, where auto-ranging keeps its first extent and new windows fall outside.
        self.figure = figure(height=260, width=640, x_axis_type="datetime",
                             x_range=Range1d(0, 1), y_range=Range1d(0, 1),
                             title=f"{store}: waiting for data", toolbar_location=None)
        self.figure.xaxis.axis_label = "window start"
        self.figure.yaxis.axis_label = "value"
        self.sources = [ColumnDataSource({"x": [], "y": []}) for _ in range(keys)]
        self.renderers = []
        items = []
        for index, source in enumerate(self.sources):
            color = Category10_10[index % 10]
            line = self.figure.line("x", "y", source=source, color=color, line_width=2)
            self.figure.scatter("x", "y", source=source, color=color, size=5)
            self.renderers.append(line)
            items.append(LegendItem(label="", renderers=[line]))
        self.legend = Legend(items=items, location="top_left")
        self.figure.add_layout(self.legend, "right")
        import ipywidgets

        self.model = _bundle_model_class()(self.figure)
        # The same facts as text: readable by screen readers and by tests (Bokeh draws on a
        # canvas), and updated with the plot.
        self.caption = ipywidgets.HTML(f"<small>{html.escape(store)}: waiting for data</small>")
        self.widget = ipywidgets.VBox([self.model, self.caption])
        self.keys_shown: list[Any] = []
        self._labels = [""] * keys
        self.updates = 0

    def refresh(self, snap: Snapshot) -> None:
        # Runs on the updater thread only: a Bokeh document must be mutated from one thread.
        from bokeh.core.properties import value as bokeh_value

        if snap.streams is None or snap.state in ("CREATED", "NOT_STARTED"):
            return
        frame = self._frame(snap.streams)
        dropped = snap.metrics.get("dropped-records-total", 0) or 0
        title = f"{self.store} ({snap.state}) - late/dropped records: {_fmt(dropped)}"
        if "window_start" not in frame.columns:
            raise TypeError(f"store {self.store!r} is not a window or session store")
        keys = self._top_keys(frame)
        changed = False
        for index, source in enumerate(self.sources):
            if index < len(keys):
                rows = frame[frame["key"] == keys[index]].sort_values("window_start")
                data = {"x": list(rows["window_start"]), "y": list(rows["value"])}
                label = str(keys[index])
            else:
                data, label = {"x": [], "y": []}, ""
            if data != dict(source.data):
                source.data = data
                changed = True
            if self._labels[index] != label:
                # value(): a plain str label would name a data column, not be the text
                self.legend.items[index].label = bokeh_value(label)
                self.renderers[index].visible = bool(label)
                self._labels[index] = label
                changed = True
        if self.figure.title.text != title:
            self.figure.title.text = title
            changed = True
        changed = self._fit_ranges(frame[frame["key"].isin(keys)]) or changed
        caption = self._caption(frame, keys, dropped)
        if caption != self.caption.value:
            self.caption.value = caption
            changed = True
        self.keys_shown = keys
        if changed:
            self.model.update_from_model(self.figure)  # one trait change: the whole plot
            self.updates += 1

    def _fit_ranges(self, shown: Any) -> bool:
        """Fit both axes to the windows shown (a little room around them); True if changed."""
        if shown.empty:
            return False
        first, last = shown["window_start"].min(), shown["window_start"].max()
        pad = (last - first) * 0.04 if last > first else datetime.timedelta(seconds=1)
        bounds = [(self.figure.x_range, first - pad, last + pad)]
        import pandas as pd

        top = pd.to_numeric(shown["value"], errors="coerce").max()  # NaN: no number to plot
        if top == top:
            bounds.append((self.figure.y_range, 0, float(top) * 1.08 if top > 0 else 1))
        changed = False
        for axis, start, end in bounds:
            if axis.start != start or axis.end != end:
                axis.start, axis.end = start, end
                changed = True
        return changed

    def _frame(self, streams: Any) -> Any:
        """The windows to plot. From a running app only those starting within ``windows``
        window sizes of the store's stream time are read (a bounded read under the stream
        thread's lock); other sources (drivers, stand-ins) are read whole."""
        locate = getattr(streams, "_local_stores", None)
        if locate is None:
            return state_frame(streams, self.store)
        from ..runtime.store_views import snapshot as store_snapshot
        from .frames import records_to_frame

        located = locate(self.store)
        size = max((getattr(store, "window_size_ms", 0) or 0 for store, _, _ in located),
                   default=0)
        snap = store_snapshot(self.store, located, limit=sys.maxsize, by="key",
                              window_span_ms=size * self.windows if size else None)
        rows = [{"key": r[0], "value": r[1], "window_start": r[3], "window_end": r[4],
                 "partition": r[2]} for r in snap.rows]
        return records_to_frame(rows, ["key", "value", "window_start", "window_end",
                                       "partition"])

    def _caption(self, frame: Any, keys: list[Any], dropped: float) -> str:
        if frame.empty:
            return f"<small>{html.escape(self.store)}: no windows yet</small>"
        last = frame["window_start"].max()
        newest = frame[frame["window_start"] == last]
        in_last = int(newest["value"].sum()) if newest["value"].dtype.kind in "iuf" else len(
            newest)
        shown = ", ".join(html.escape(str(k)) for k in keys)
        return (f"<small class='streamnb-windowed-caption'>{html.escape(self.store)}: "
                f"{frame['window_start'].nunique()} windows, latest starts "
                f"{last.strftime('%H:%M:%S')} UTC with {in_last:,} counted; keys shown: "
                f"{shown}; late/dropped records: {_fmt(dropped)}</small>")

    def _top_keys(self, frame: Any) -> list[Any]:
        if frame.empty:
            return []
        try:
            totals = frame.groupby("key")["value"].sum()
            return list(totals.sort_values(ascending=False).index[: self.max_keys])
        except TypeError:
            return list(dict.fromkeys(frame["key"]))[: self.max_keys]


# Lag table cells: JupyterLab gives widget HTML tables no padding (columns ran together),
# so each cell sets its own; numbers right-aligned in tabular figures, so digits line up;
# long topic names are cut with an ellipsis (the full name is the cell's tooltip).
_LAG_CELL = "padding:2px 10px;white-space:nowrap;vertical-align:middle"
_LAG_TEXT = (f"{_LAG_CELL};text-align:left;max-width:28em;overflow:hidden;"
             "text-overflow:ellipsis")
_LAG_NUM = f"{_LAG_CELL};text-align:right;font-variant-numeric:tabular-nums"
_LAG_HEAD = "border-bottom:1px solid #bbb;font-weight:bold"
_LAG_BAR = 160  # px of the longest bar


class LagView(_HtmlView):
    """Consumer lag per input partition (end offset minus committed), with bars, and when
    it was read: stream threads sample lag about once a second, so this view refreshes at
    that pace and says how fresh its numbers are."""

    min_interval = 1.0

    def _rows(self, snap: Snapshot) -> list[tuple[str, int, int]]:
        lag = snap.metrics.get("records-lag") or {}
        return [(str(topic), int(partition), int(value))
                for (topic, partition), value in sorted(lag.items())]

    def render(self, snap: Snapshot) -> str:
        rows = self._rows(snap)
        if not rows:
            return "<b>consumer lag</b> <i>(no partitions assigned yet)</i>"
        top = max((r[2] for r in rows), default=0) or 1
        body = "".join(
            f"<tr><td style='{_LAG_TEXT}' title='{html.escape(t, quote=True)}'>"
            f"{html.escape(t)}</td><td style='{_LAG_NUM}'>{p}</td>"
            f"<td style='{_LAG_NUM}'>{lag:,}</td><td style='{_LAG_CELL}'>"
            f"<div style='background:#ef8a62;height:9px;width:{int(_LAG_BAR * lag / top)}px'>"
            "</div></td></tr>"
            for t, p, lag in rows)
        total = sum(r[2] for r in rows)
        when = time.strftime("%H:%M:%S", time.localtime(time.time() - (time.monotonic()
                                                                        - snap.time)))
        return (f"<b>consumer lag</b> <span class='streamnb-lag-total'>total {total:,}, "
                f"as of {when}</span>"
                f"<table class='streamnb-lag' style='{_TABLE_CSS};table-layout:auto'>"
                f"<tr><th style='{_LAG_TEXT};{_LAG_HEAD}'>topic</th>"
                f"<th style='{_LAG_NUM};{_LAG_HEAD}'>partition</th>"
                f"<th style='{_LAG_NUM};{_LAG_HEAD}'>lag</th>"
                f"<th style='{_LAG_CELL};{_LAG_HEAD};width:{_LAG_BAR}px'></th></tr>"
                f"{body}</table>")

    def text(self, snap: Snapshot) -> str:
        rows = self._rows(snap)
        lines = [f"  {t}[{p}]: {lag:,}" for t, p, lag in rows] or ["  (no partitions yet)"]
        return "consumer lag:\n" + "\n".join(lines)


def sparkline_svg(values: list[float], width: int = 220, height: int = 36,
                  color: str = "#3a6fb0") -> str:
    """A tiny inline SVG line of ``values`` (scaled to its own max)."""
    if len(values) < 2:
        return f'<svg width="{width}" height="{height}"></svg>'
    top = max(values) or 1.0
    step = width / (len(values) - 1)
    points = " ".join(f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}"
                      for i, v in enumerate(values))
    return (f'<svg width="{width}" height="{height}" style="background:#fafafa">'
            f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{points}"/>'
            "</svg>")


class ThroughputView(_HtmlView):
    """Records per second and end-to-end latency over the last 30 seconds, as sparklines."""

    def render(self, snap: Snapshot) -> str:
        rates = [h[1] for h in snap.history]
        latencies = [h[2] for h in snap.history]
        rate = rates[-1] if rates else 0.0
        latency = latencies[-1] if latencies else 0.0
        return (
            "<div class='streamnb-throughput' style='font-family:sans-serif;font-size:12px'>"
            f"<div><b>throughput</b> {_fmt(rate)} records/s<br>"
            f"{sparkline_svg(rates)}</div>"
            f"<div><b>e2e latency</b> {_fmt(latency)} ms<br>"
            f"{sparkline_svg(latencies, color='#c46a12')}</div></div>")

    def text(self, snap: Snapshot) -> str:
        rate = snap.history[-1][1] if snap.history else 0.0
        latency = snap.history[-1][2] if snap.history else 0.0
        return f"throughput {_fmt(rate)} records/s, e2e latency {_fmt(latency)} ms"


def _store_kinds(topology: Any) -> dict[str, str]:
    kinds = {}
    if topology is None:
        return kinds
    for name, builder in topology.stores.items():
        supplier = getattr(builder, "supplier", builder)
        kinds[name] = getattr(supplier, "kind", None) or getattr(builder, "kind", "key_value")
    return kinds


def _attach(view: Any, target: Target) -> Any:
    updater_for(target).add(view)
    return view


def status_view(target: Any) -> StatusView:
    """The app's state and headline numbers, live."""
    t = Target(target)
    return _attach(StatusView(t), t)


def live_topology(target: Any) -> LiveTopologyView:
    """The topology drawing, live (records per node when the runtime reports them)."""
    t = Target(target)
    return _attach(LiveTopologyView(t), t)


def store_table(target: Any, store: str, top: int = 20, by: str = "value") -> StoreTableView:
    """A live table of ``store``: ``top`` rows by value (or by key), with a key filter."""
    t = Target(target)
    return _attach(StoreTableView(t, store, top, by), t)


def windowed_plot(target: Any, store: str, keys: int = 8, inline: bool | None = None
                  ) -> WindowedPlotView:
    """A live Bokeh plot of a window store: one line per key, windows on the x axis."""
    load_bokehjs(inline)
    t = Target(target)
    return _attach(WindowedPlotView(t, store, keys), t)


def lag_view(target: Any) -> LagView:
    """Consumer lag per partition, live."""
    t = Target(target)
    return _attach(LagView(t), t)


def throughput_view(target: Any) -> ThroughputView:
    """Throughput and latency sparklines, live."""
    t = Target(target)
    return _attach(ThroughputView(t), t)


class Dashboard:
    """Every live view of an app in one widget; ``views`` holds them for inspection."""

    def __init__(self, target: Target, views: list[Any], widget: Any) -> None:
        self.target, self.views, self.widget = target, views, widget
        self.updater = updater_for(target)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, tuple):
            data, meta = bundle
        else:
            data, meta = bundle, {}
        data = dict(data or {})
        data["text/plain"] = TextDashboard(self.target, self.views).render()
        return data, meta

    def close(self) -> None:
        """Stop refreshing these views and close their widgets."""
        for view in self.views:
            self.updater.remove(view)
        self.widget.close()

    def __repr__(self) -> str:
        return f"<Dashboard of {self.target.name}: {len(self.views)} views>"


class TextDashboard:
    """The dashboard for terminals: a fresh text snapshot each time it is displayed."""

    def __init__(self, target: Target, views: list[Any] | None = None,
                 stores: list[str] | None = None, top: int = 10) -> None:
        self.target, self.views, self.stores, self.top = target, views, stores, top

    def render(self) -> str:
        updater = updater_for(self.target)
        snap = updater.snapshot()
        parts = []
        if self.views is not None:
            parts = [view.text(snap) for view in self.views if hasattr(view, "text")]
            return "\n".join(p for p in parts if p)
        kinds = _store_kinds(self.target.topology)
        parts.append(StatusView.text(_Bare(self.target), snap))
        parts.append(ThroughputView.text(_Bare(self.target), snap))
        parts.append(LagView.text(_Bare(self.target), snap))
        for store in self.stores if self.stores is not None else list(kinds):
            try:
                frame = state_frame(snap.streams, store) if snap.streams is not None else None
            except Exception as exc:
                parts.append(f"store {store}: not readable ({exc})")
                continue
            if frame is None:
                parts.append(f"store {store}: (app not started)")
            else:
                parts.append(f"store {store} ({len(frame)} entries):\n"
                             + _sorted_frame(frame, "value").head(self.top).to_string(
                                 index=False))
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.render()

    __repr__ = __str__

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.render())


class _Bare:
    """Lets TextDashboard call the views' ``text`` without building widgets."""

    def __init__(self, target: Target) -> None:
        self.target = target

    _rows = LagView._rows
    _facts = StatusView._facts


def dashboard(target: Any, stores: list[str] | None = None, top: int = 10, keys: int = 8,
              inline: bool | None = None, text: bool | None = None) -> Any:
    """Status, topology, a table per key-value store, a plot per window store, lag and
    throughput for ``target`` (a KafkaStreams or a notebook app), refreshing live.

    ``stores`` limits which stores are shown; ``text=True`` (the default outside a Jupyter
    kernel) gives a text snapshot instead of widgets; ``inline`` embeds BokehJS (offline).
    """
    t = Target(target)
    if text is None:
        text = not in_widget_frontend()
    if text:
        return TextDashboard(t, stores=stores, top=top)
    import ipywidgets

    kinds = _store_kinds(t.topology)
    wanted = list(kinds) if stores is None else stores
    unknown = [s for s in wanted if s not in kinds]
    if unknown:
        raise ValueError(f"no store(s) {unknown} in {t.name}; its stores are {sorted(kinds)}")
    views: list[Any] = [StatusView(t), LiveTopologyView(t)]
    panels = []
    for store in wanted:
        if kinds[store] in ("window", "session"):
            load_bokehjs(inline)
            views.append(WindowedPlotView(t, store, keys))
        else:
            views.append(StoreTableView(t, store, top))
        panels.append(views[-1].widget)
    lag, throughput = LagView(t), ThroughputView(t)
    views += [lag, throughput]
    widget = ipywidgets.VBox([
        views[0].widget,
        ipywidgets.Accordion([views[1].widget], titles=("topology",)),
        *panels,
        ipywidgets.HBox([lag.widget, throughput.widget]),
    ])
    updater = updater_for(t)
    for view in views:
        updater.add(view)
    return Dashboard(t, views, widget)
