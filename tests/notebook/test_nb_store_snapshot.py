"""Bounded store snapshots for live views: the top N chosen after the lock is released,
filters, windows limited to a recent span, and ``KafkaStreams.local_stores`` /
``local_store_snapshot`` on a real app."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from streamnb import KafkaStreams, StreamsBuilder
from streamnb.notebook import _updater
from streamnb.notebook.widgets import StoreTableView, dashboard
from streamnb.runtime.clients import TopicProducer
from streamnb.runtime.store_views import _sqlite_kv_pairs, snapshot
from streamnb.state.memory import InMemoryKeyValueStore
from streamnb.state.window import InMemoryWindowStore


class CountingLock:
    """A lock that counts how often it was taken (the reads must take it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.taken = 0

    def __enter__(self):
        self._lock.acquire()
        self.taken += 1
        return self

    def __exit__(self, *exc):
        self._lock.release()


def kv_store(entries, timestamped=True, name="counts"):
    store = InMemoryKeyValueStore(name)
    store.init()
    store.timestamped = timestamped
    for key, value in entries.items():
        store.put(key, (value, 1000) if timestamped else value)
    return store


def test_top_by_value_ties_in_key_order_and_plain_values():
    store = kv_store({f"w{i:03d}": i % 7 for i in range(300)})
    lock = CountingLock()
    snap = snapshot("counts", [(store, lock, 0)], limit=3)
    assert lock.taken == 1
    assert snap.rows == [("w006", 6, 0), ("w013", 6, 0), ("w020", 6, 0)]
    assert (snap.total, snap.matched, snap.kind) == (300, 300, "key_value")


def test_filter_by_key_and_order_by_key_over_two_partitions():
    first = kv_store({"apple": 3, "banana": 9, "cherry": 1})
    second = kv_store({"pineapple": 5, "grape": 2})
    located = [(first, None, 0), (second, None, 1)]
    snap = snapshot("counts", located, limit=10, key_filter=" APP ")
    assert snap.rows == [("pineapple", 5, 1), ("apple", 3, 0)]
    assert (snap.total, snap.matched) == (5, 2)
    by_key = snapshot("counts", located, limit=2, by="key")
    assert by_key.rows == [("apple", 3, 0), ("banana", 9, 0)]
    frame = snapshot("counts", located, limit=2).to_frame()
    assert list(frame.columns) == ["key", "value", "partition"]
    assert frame.attrs == {"total_entries": 5, "matching_entries": 5}


def test_values_that_do_not_compare_are_ordered_by_their_text():
    store = kv_store({"a": {"n": 1}, "b": [2], "c": 3}, timestamped=False)
    snap = snapshot("s", [(store, None, 0)], limit=2)
    assert [r[0] for r in snap.rows] == ["a", "b"]  # text order: "{..." > "[2]" > "3"


def test_bad_arguments_say_what_is_wrong():
    store = kv_store({"a": 1})
    with pytest.raises(ValueError, match="by must be 'value' or 'key'"):
        snapshot("s", [(store, None, 0)], by="count")
    with pytest.raises(ValueError, match="limit must be a non-negative int"):
        snapshot("s", [(store, None, 0)], limit=-1)


def test_window_snapshot_reads_only_the_recent_span():
    store = InMemoryWindowStore("per-minute", retention_ms=3_600_000, window_size_ms=60_000)
    store.init()
    store.timestamped = True
    for start in range(0, 600_000, 60_000):  # ten one-minute windows
        store.observed_stream_time = start
        store.put("u1", (start // 60_000, start), start)
    snap = snapshot("per-minute", [(store, None, 0)], limit=100, by="key",
                    window_span_ms=3 * 60_000)
    assert [(r[3], r[1]) for r in snap.rows] == [
        (360_000, 6), (420_000, 7), (480_000, 8), (540_000, 9)]
    assert snap.rows[0][4] == 420_000 and snap.windowed
    everything = snapshot("per-minute", [(store, None, 0)], limit=100, by="key")
    assert everything.total == 10


@pytest.fixture()
def running_wordcount(tmp_path):
    app_id = f"snap-{uuid.uuid4().hex[:8]}"
    builder = StreamsBuilder()
    builder.stream(f"{app_id}-in").flat_map_values(str.split).group_by(
        lambda _k, word: word).count(materialized="word-counts")
    streams = KafkaStreams(builder.build(), {"application.id": app_id,
                                             "state.dir": str(tmp_path)})
    producer = TopicProducer(streams.bootstrap_servers)
    producer.ensure_topic(f"{app_id}-in", partitions=1)
    streams.start()
    lines = ["a b c", "a b", "a", "alpha beta"]
    producer.send(f"{app_id}-in", lines)
    producer.flush(10)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if streams.metrics()["process-total"] >= 4 + 8:
                break
            time.sleep(0.05)
        yield streams
    finally:
        _updater.stop_all()
        streams.close(timeout=30)


def test_local_stores_and_snapshot_of_a_running_app(running_wordcount):
    streams = running_wordcount
    assert streams.local_stores() == {"word-counts": "key_value"}
    frame = streams.local_store_snapshot("word-counts", limit=2)
    assert list(frame["key"]) == ["a", "b"] and list(frame["value"]) == [3, 2]
    assert frame.attrs["total_entries"] == 5
    only = streams.local_store_snapshot("word-counts", key_filter="ALPHA")
    assert list(only["key"]) == ["alpha"] and only.attrs["matching_entries"] == 1
    with pytest.raises(Exception, match="unknown state store 'nope'"):
        streams.local_store_snapshot("nope")


def test_store_table_of_a_running_app_shows_top_rows_and_knows_the_total(running_wordcount):
    board = dashboard(running_wordcount, text=False, top=2)
    table = next(v for v in board.views if isinstance(v, StoreTableView))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "<td>a</td><td>3</td>" not in table.html.value:
        time.sleep(0.05)
    assert "<td>a</td><td>3</td>" in table.html.value
    assert "2 of 5 entries" in table.html.value and table.total_rows == 5
    table.filter.value = "alp"  # a control change reads again at once
    assert "<td>alpha</td><td>1</td>" in table.html.value and "<td>a</td>" not in table.html.value
    # ``frame`` is the whole store, read when asked
    assert sorted(table.frame["key"]) == ["a", "alpha", "b", "beta", "c"]
    board.close()


class FlushAfterRelease(CountingLock):
    """A lock whose release lets the 'stream thread' write and commit at once."""

    def __init__(self, after):
        super().__init__()
        self.after = after

    def __exit__(self, *exc):
        super().__exit__(*exc)
        self.after()


def test_persistent_store_is_scanned_outside_the_lock_from_a_consistent_snapshot(tmp_path):
    from streamnb.state.persistent import PersistentKeyValueStore

    store = PersistentKeyValueStore("counts")
    store.init(tmp_path)
    store.timestamped = False
    for i in range(50):
        store.put(f"w{i:02d}", i)
    store.flush()
    store.delete("w49")  # un-flushed delete
    store.put("w00", 100)  # un-flushed update

    def stream_thread_writes():
        store.put("late", 1000)
        store.put("w01", 1000)
        store.flush()

    lock = FlushAfterRelease(stream_thread_writes)
    snap = snapshot("counts", [(store, lock, 0)], limit=3)
    assert lock.taken == 1
    assert snap.rows == [("w00", 100, 0), ("w48", 48, 0), ("w47", 47, 0)]
    assert snap.total == 49  # neither the delete's key nor the later writes
    by_key = snapshot("counts", [(store, None, 0)], limit=2, by="key")
    assert by_key.rows == [("late", 1000, 0), ("w00", 100, 0)] and by_key.total == 50
    # the read above took the sqlite path (a second connection), not a scan under the lock
    scanned = _sqlite_kv_pairs(store, CountingLock())
    assert scanned is not None and len(scanned) == 50
    store.close()
