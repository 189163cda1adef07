"""Live widgets: traits updated from the app's one background thread, throttled, stopping
with the app; a text dashboard for terminals."""

from __future__ import annotations

import re
import threading
import time

import pandas as pd
import pytest

from streamnb import StreamsBuilder, TimeWindows, TopologyTestDriver
from streamnb.examples.wordcount import build_topology
from streamnb.notebook import _updater
from streamnb.notebook.frames import state_frame
from streamnb.notebook.widgets import (
    LagView,
    StatusView,
    StoreTableView,
    TextDashboard,
    WindowedPlotView,
    dashboard,
)


class DriverStreams:
    """A KafkaStreams stand-in whose stores live in a TopologyTestDriver and whose metrics
    the test moves on; the views only use state(), metrics() and to_pandas()."""

    def __init__(self, topology):
        self.topology = topology
        self.driver = TopologyTestDriver(topology)
        self.config = {"application.id": "fake-app"}
        self.bootstrap_servers = "127.0.0.1:9"
        self._state = "RUNNING"
        self.total = 0
        self.lock = threading.Lock()

    def state(self):
        return self._state

    def metrics(self):
        with self.lock:
            return {"process-total": self.total, "dropped-records-total": 2,
                    "records-lag": {("in", 0): 5, ("in", 1): 0}, "records-lag-total": 5,
                    "stream-thread-count": 1,
                    "threads": {"t1": {"record-e2e-latency-last": 12.0}}}

    def to_pandas(self, name):
        with self.lock:
            return state_frame(self.driver, name)

    def close(self, timeout=None):
        self._state = "NOT_RUNNING"
        self.driver.close()


@pytest.fixture()
def wordcount():
    streams = DriverStreams(build_topology())
    streams.driver.create_input_topic("streams-plaintext-input").pipe_value_list(
        ["kafka streams", "hello kafka", "join kafka summit", "apple"])
    yield streams
    _updater.stop_all()
    if streams.state() != "NOT_RUNNING":
        streams.close()


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_dashboard_updates_traits_from_one_background_thread(wordcount):
    board = dashboard(wordcount, text=False)
    status = next(v for v in board.views if isinstance(v, StatusView))
    table = next(v for v in board.views if isinstance(v, StoreTableView))
    senders: set[str] = set()
    status.html.observe(lambda change: senders.add(threading.current_thread().name), "value")
    assert wait_for(lambda: "RUNNING" in status.html.value)
    assert wait_for(lambda: "kafka" in table.html.value)
    with wordcount.lock:
        wordcount.total = 1234
    assert wait_for(lambda: "1,234" in status.html.value)
    assert senders == {"streamnb-widgets-fake-app"}
    lag = next(v for v in board.views if isinstance(v, LagView))
    assert re.search(r"<td [^>]*title='in'>in</td><td style='[^']*text-align:right[^']*'>0</td>",
                     lag.html.value)
    assert "padding:2px 10px" in lag.html.value  # cells are padded: columns do not touch
    # Stops with the app: one last refresh shows the final state, then the thread ends.
    wordcount.close()
    assert wait_for(lambda: not board.updater.running)
    assert "NOT_RUNNING" in status.html.value


def test_updates_are_throttled_to_four_per_second(wordcount):
    board = dashboard(wordcount, text=False)
    status = next(v for v in board.views if isinstance(v, StatusView))
    stop = threading.Event()

    def churn():  # metrics change far faster than the widgets may follow
        while not stop.is_set():
            with wordcount.lock:
                wordcount.total += 1
            time.sleep(0.001)

    worker = threading.Thread(target=churn, daemon=True)
    worker.start()
    try:
        assert wait_for(lambda: status.updates >= 1)
        before, started = status.updates, time.monotonic()
        time.sleep(1.5)
        sent = status.updates - before
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        worker.join()
    assert 1 <= sent <= 4 * elapsed + 1


def test_store_table_filter_and_order(wordcount):
    board = dashboard(wordcount, text=False)
    table = next(v for v in board.views if isinstance(v, StoreTableView))
    # The shown rows, not ``frame``: ``frame`` reads the store as soon as the updater has
    # the app, a moment before it has selected the rows ``_table`` returns.
    assert wait_for(lambda: table._table() is not None)
    first = table._table()
    assert first.iloc[0]["key"] == "kafka" and first.iloc[0]["value"] == 3
    table.filter.value = "app"
    assert list(table._table()["key"]) == ["apple"]
    assert "apple" in table.html.value and "hello" not in table.html.value
    table.filter.value = ""
    table.order.value = "key"
    table.top.value = 2
    assert list(table._table()["key"]) == ["apple", "hello"]


def test_windowed_plot_has_one_line_per_key():
    builder = StreamsBuilder()
    builder.stream("clicks").group_by_key().windowed_by(
        TimeWindows.of_size_and_grace(60_000, 600_000)).count(materialized="per-minute")
    streams = DriverStreams(builder.build())
    topic = streams.driver.create_input_topic("clicks")
    for key, t in [("u1", 1_000), ("u1", 2_000), ("u2", 61_000), ("u1", 65_000),
                   ("u3", 130_000)]:
        topic.pipe_input(key, "x", timestamp=t)
    try:
        board = dashboard(streams, text=False, keys=2)
        plot = next(v for v in board.views if isinstance(v, WindowedPlotView))
        patches, bundles = [], []
        plot.model.send = lambda msg, buffers=None: patches.append(msg)  # custom comm msgs
        plot.model.observe(lambda change: bundles.append(change["new"]), "render_bundle")
        assert wait_for(lambda: plot.updates >= 1)
        assert plot.keys_shown == ["u1", "u2"]  # top two keys by total count
        assert list(plot.sources[0].data["y"]) == [2, 1]
        assert len(plot.sources[0].data["x"]) == 2 and plot.renderers[1].visible
        assert "late/dropped records: 2" in plot.figure.title.text
        assert "3 windows, latest starts 00:02:00 UTC with 1 counted; keys shown: u1, u2" \
            in plot.caption.value
        # Whole render bundles (one state message each), no order-sensitive patch stream.
        assert bundles and not patches
        assert "late/dropped records: 2" in str(bundles[-1]["docs_json"])
        assert plot.legend.items[0].label.value == "u1"  # a text, not a column name
        # Explicit ranges that cover the windows shown (u1 at 0 and 60 s, u2 at 60 s), so
        # windows that arrive later are not drawn outside a range the front end kept.
        x_range, y_range = plot.figure.x_range, plot.figure.y_range
        assert x_range.start < pd.Timestamp(0, unit="ms", tz="UTC")
        assert x_range.end > pd.Timestamp(60_000, unit="ms", tz="UTC")
        assert y_range.start == 0 and y_range.end >= 2
        topic.pipe_input("u1", "x", timestamp=185_000)  # a new window, later than all shown
        topic.pipe_input("u1", "x", timestamp=186_000)
        assert wait_for(lambda: x_range.end > pd.Timestamp(180_000, unit="ms", tz="UTC"))
    finally:
        _updater.stop_all()
        streams.close()


def test_text_dashboard_outside_a_kernel(wordcount):
    board = dashboard(wordcount)  # pytest is no Jupyter kernel: text
    assert isinstance(board, TextDashboard)
    text = str(board)
    assert "fake-app: RUNNING" in text
    assert "in[0]: 5" in text
    assert "store counts-store (6 entries)" in text and "kafka" in text
    assert not _updater.updater_for(wordcount).running  # no thread for a text snapshot


def test_windowed_plot_ranges_ignore_values_that_are_not_numbers():
    """Aggregates may be dicts or strings: the x range still follows the windows, and the
    y range is left alone rather than the refresh failing."""
    builder = StreamsBuilder()
    builder.stream("clicks").group_by_key().windowed_by(
        TimeWindows.of_size_and_grace(60_000, 600_000)).aggregate(
        lambda: {"n": 0}, lambda key, value, agg: {"n": agg["n"] + 1},
        materialized="per-minute")
    streams = DriverStreams(builder.build())
    topic = streams.driver.create_input_topic("clicks")
    for key, t in [("u1", 1_000), ("u2", 61_000), ("u1", 125_000)]:
        topic.pipe_input(key, "x", timestamp=t)
    try:
        board = dashboard(streams, text=False, keys=2)
        plot = next(v for v in board.views if isinstance(v, WindowedPlotView))
        assert wait_for(lambda: plot.updates >= 1)
        assert plot.keys_shown and not _updater.updater_for(streams).errors
        assert plot.figure.x_range.end > pd.Timestamp(120_000, unit="ms", tz="UTC")
        assert (plot.figure.y_range.start, plot.figure.y_range.end) == (0, 1)
    finally:
        _updater.stop_all()
        streams.close()
