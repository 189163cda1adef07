"""The stream-stream join's window store: retention, out-of-order inserts, flat size."""

from __future__ import annotations

from streamnb.state.join_window import MIN_SEGMENT_INTERVAL_MS, JoinWindowStore


def test_fetch_returns_live_records_in_time_order_with_duplicates():
    store = JoinWindowStore("s", retention_ms=100, window_size_ms=50)
    for ts, value in [(10, "a"), (30, "b"), (20, "c"), (20, "d"), (30, "e")]:
        store.put("k", value, ts)
    assert list(store.fetch("k", 0, 100)) == [(10, "a"), (20, "c"), (20, "d"), (30, "b"),
                                              (30, "e")]
    assert list(store.fetch("k", 20, 20)) == [(20, "c"), (20, "d")]


def test_expired_records_are_skipped_and_never_returned():
    store = JoinWindowStore("s", retention_ms=100, window_size_ms=50)
    store.put("k", "old", 0)
    store.put("other", "new", 150)
    assert list(store.fetch("k", 0, 200)) == []  # expired (<= 150 - 100), swept or not
    store.put("k", "too-late", 40)  # older than the retention: skipped
    assert list(store.fetch("k", 0, 200)) == []
    store.put("k", None, 150)  # a None value is never kept
    assert list(store.all()) == [("other", 150, "new")]


def test_size_stays_flat_once_stream_time_passes_the_retention():
    store = JoinWindowStore("s", retention_ms=1000, window_size_ms=500)
    sizes = []
    for ts in range(0, 600_000, 10):
        store.put(ts % 997, ts, ts)  # ~1 record per key per 10 s: keys go stale
        if ts % 100_000 == 0:
            sizes.append(store.approximate_num_entries())
    live = 1000 // 10
    bound = (MIN_SEGMENT_INTERVAL_MS + 1000) // 10 + live
    assert max(sizes[1:]) <= bound
    assert len(store.data) <= bound


def test_restore_keeps_the_sequence_number_going():
    store = JoinWindowStore("s", retention_ms=100, window_size_ms=50)
    store._restore(("k", 5, 7), ("v", 5))
    assert store.seq == 7 and list(store.fetch("k", 0, 10)) == [(5, "v")]
