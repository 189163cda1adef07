"""Window and session stores, in memory and persistent: fetch, expiry, reopen."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamnb import Materialized, SessionWindows, StreamsBuilder, TimeWindows, TopologyTestDriver
from streamnb.dsl.windows import SessionWindow, Windowed
from streamnb.state.builders import Stores


def _window_store(kind: str, tmp_path: Path, retention: int = 100, size: int = 10):  # type: ignore[no-untyped-def]
    make = Stores.in_memory_window_store if kind == "memory" else Stores.persistent_window_store
    store = Stores.window_store_builder(make("w", retention, size)).build()
    store.init(tmp_path / "w")
    return store


def _session_store(kind: str, tmp_path: Path, retention: int = 100):  # type: ignore[no-untyped-def]
    make = Stores.in_memory_session_store if kind == "memory" else Stores.persistent_session_store
    store = Stores.session_store_builder(make("s", retention)).build()
    store.init(tmp_path / "s")
    return store


BACKENDS = ["memory", "persistent"]


@pytest.mark.parametrize("kind", BACKENDS)
def test_window_store_fetch_and_remove(kind: str, tmp_path: Path) -> None:
    store = _window_store(kind, tmp_path)
    assert store.kind == "window"
    store.put("a", 1, 0)
    store.put("a", 2, 10)
    store.put("b", 3, 10)
    store.put("a", 4, 30)
    assert list(store.fetch("a", 0, 20)) == [(0, 1), (10, 2)]
    assert list(store.backward_fetch("a", 0, 100)) == [(30, 4), (10, 2), (0, 1)]
    assert store.fetch("b", 10) == 3 and store.fetch("b", 0) is None
    assert [(kv.key.key, kv.key.window.start, kv.key.window.end, kv.value)
            for kv in store.fetch_all(5, 30)] == [("a", 10, 20, 2), ("b", 10, 20, 3),
                                                  ("a", 30, 40, 4)]
    store.remove("a", 10)
    assert list(store.fetch("a", 0, 100)) == [(0, 1), (30, 4)]
    store.flush()
    assert list(store.fetch("a", 0, 100)) == [(0, 1), (30, 4)]
    store.close()


@pytest.mark.parametrize("kind", BACKENDS)
def test_window_store_expires_and_stays_flat(kind: str, tmp_path: Path) -> None:
    retention = 100
    store = _window_store(kind, tmp_path, retention=retention, size=10)
    sizes = []
    for start in range(0, 2000, 10):
        for key in range(5):
            store.put(key, start, start)
        if start % 500 == 0:
            store.flush()
        sizes.append(store.approximate_num_entries())
    # Never more than the retention's worth of windows (plus persistent segment slack).
    bound = 5 * (retention // 10 + 1) if kind == "memory" else 5 * (60_000 // 10 + 1)
    assert max(sizes) <= bound
    if kind == "memory":
        assert sizes[-1] == sizes[len(sizes) // 2] == 50
    # Expired windows are never returned, and late puts are skipped.
    assert list(store.fetch(0, 0, 10_000))[0][0] == 1990 - retention + 10
    store.put(0, "late", 1000)
    assert store.fetch(0, 1000) is None and store.expired_records == 1
    store.close()


def test_persistent_window_store_drops_whole_segments(tmp_path: Path) -> None:
    store = _window_store("persistent", tmp_path, retention=120_000, size=10)
    for minute in range(10):
        store.put("k", minute, minute * 60_000)
        store.flush()
    files = sorted(p.name for p in (tmp_path / "w").glob("segment-*.sqlite"))
    assert len(files) <= 3  # segment interval = retention / 2: at most 3 live segments
    assert [start for start, _ in store.fetch("k", 0, 10**9)] == [480_000, 540_000]
    store.close()


def test_persistent_window_store_survives_reopen(tmp_path: Path) -> None:
    store = _window_store("persistent", tmp_path)
    store.put(("t", 1), {"n": 1}, 50)
    store.close()
    again = _window_store("persistent", tmp_path)
    assert list(again.fetch(("t", 1), 0, 100)) == [(50, {"n": 1})]
    assert again.observed_stream_time == 50
    again.close()


@pytest.mark.parametrize("kind", BACKENDS)
def test_session_store_find_and_expire(kind: str, tmp_path: Path) -> None:
    store = _session_store(kind, tmp_path, retention=100)
    assert store.kind == "session"
    w = lambda k, s, e: Windowed(k, SessionWindow(s, e))  # noqa: E731
    store.put(w("a", 0, 10), 1)
    store.put(w("a", 20, 30), 2)
    store.put(w("b", 5, 25), 3)
    assert list(store.fetch("a")) == [(w("a", 0, 10), 1), (w("a", 20, 30), 2)]
    assert list(store.find_sessions("a", 15, 40)) == [(w("a", 20, 30), 2)]
    assert list(store.find_sessions(0, 25)) == [(w("a", 0, 10), 1), (w("b", 5, 25), 3)]
    assert store.fetch_session("b", 5, 25) == 3
    store.remove(w("a", 20, 30))
    assert list(store.fetch("a")) == [(w("a", 0, 10), 1)]
    store.put(w("c", 200, 200), 9)  # observed 200: sessions ending before 101 expire
    assert list(store.fetch("a")) == [] and list(store.fetch("b")) == []
    if kind == "memory":
        assert store.approximate_num_entries() == 1
    store.put(w("a", 50, 60), 5)
    assert store.expired_records == 1
    store.close()


@pytest.mark.parametrize("store_type", ["in_memory", "persistent"])
def test_dsl_windowed_count_on_both_backends(store_type: str, tmp_path: Path) -> None:
    builder = StreamsBuilder()
    builder.stream("in").group_by_key().windowed_by(
        TimeWindows.of_size_with_no_grace(10)).count(
        materialized=Materialized.as_("counts").with_store_type(store_type)
        .with_retention(30)).to_stream().to("out")
    builder.stream("in2").group_by_key().windowed_by(
        SessionWindows.of_inactivity_gap_with_no_grace(5)).count(
        materialized=Materialized.as_("sessions").with_store_type(store_type))
    config = {"state.dir": str(tmp_path)}
    with TopologyTestDriver(builder.build(), config) as driver:
        topic = driver.create_input_topic("in")
        for ts in (1, 2, 11, 25):
            topic.pipe_input("k", "v", ts)
        assert list(driver.get_window_store("counts").fetch("k", 0, 100)) == [
            (0, 2), (10, 1), (20, 1)]
        driver.create_input_topic("in2").pipe_input("k", "v", 3)
        driver.create_input_topic("in2").pipe_input("k", "v", 6)
        assert list(driver.get_session_store("sessions").fetch("k")) == [
            (Windowed("k", SessionWindow(3, 6)), 2)]
        assert driver.get_window_store("counts").approximate_num_entries() >= 3
        with pytest.raises(Exception, match="window store"):
            driver.get_key_value_store("counts")


def test_store_factory_validation() -> None:
    with pytest.raises(ValueError, match="no smaller than its window size"):
        Stores.in_memory_window_store("w", 5, 10)
    with pytest.raises(ValueError, match="retentionPeriod cannot be negative"):
        Stores.in_memory_session_store("s", -1)
    with pytest.raises(TypeError, match="window store supplier"):
        Stores.window_store_builder(Stores.in_memory_key_value_store("kv"))
