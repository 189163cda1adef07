"""Stores as DataFrames from a TopologyTestDriver: every store kind, sensible columns."""

from __future__ import annotations

import pandas as pd
import pytest

from streamnb import (
    Materialized,
    SessionWindows,
    Stores,
    StreamsBuilder,
    TimeWindows,
    TopologyTestDriver,
)
from streamnb.examples.wordcount import build_topology
from streamnb.notebook.frames import state_frame, store_to_frame


def ts(ms):
    return pd.Timestamp(ms, unit="ms", tz="UTC")


def test_key_value_store_of_the_word_count():
    with TopologyTestDriver(build_topology()) as driver:
        driver.create_input_topic("streams-plaintext-input").pipe_value_list(
            ["a b a", "c a"], start=1_000, advance=10)
        frame = state_frame(driver, "counts-store")
    assert list(frame.columns) == ["key", "value", "timestamp"]
    assert dict(zip(frame["key"], frame["value"])) == {"a": 3, "b": 1, "c": 1}
    assert frame.loc[frame["key"] == "a", "timestamp"].iloc[0] == ts(1_010)


def test_windowed_count_has_window_bounds_as_timestamps():
    builder = StreamsBuilder()
    builder.stream("clicks").group_by_key().windowed_by(
        TimeWindows.of_size_and_grace(60_000, 60_000)).count(materialized="per-minute")
    with TopologyTestDriver(builder.build()) as driver:
        topic = driver.create_input_topic("clicks")
        for key, t in [("u1", 1_000), ("u1", 2_000), ("u2", 61_000), ("u1", 65_000)]:
            topic.pipe_input(key, "x", timestamp=t)
        frame = state_frame(driver, "per-minute")
    assert list(frame.columns)[:4] == ["key", "value", "window_start", "window_end"]
    rows = {(r.key, r.window_start): (r.value, r.window_end) for r in frame.itertuples()}
    assert rows == {("u1", ts(0)): (2, ts(60_000)), ("u1", ts(60_000)): (1, ts(120_000)),
                    ("u2", ts(60_000)): (1, ts(120_000))}
    assert isinstance(frame["window_start"].dtype, pd.DatetimeTZDtype)


def test_session_store_rows_are_sessions():
    builder = StreamsBuilder()
    builder.stream("clicks").group_by_key().windowed_by(
        SessionWindows.of_inactivity_gap_and_grace(5_000, 20_000)).count(materialized="sessions")
    with TopologyTestDriver(builder.build()) as driver:
        topic = driver.create_input_topic("clicks")
        for t in (1_000, 5_000, 20_000):
            topic.pipe_input("u1", "x", timestamp=t)
        frame = state_frame(driver, "sessions")
    got = sorted((r.key, r.value, r.window_start, r.window_end) for r in frame.itertuples())
    assert got == [("u1", 1, ts(20_000), ts(20_000)), ("u1", 2, ts(1_000), ts(5_000))]


def test_versioned_store_latest_and_as_of():
    builder = StreamsBuilder()
    builder.table("prices", materialized=Materialized.as_("v").with_versioned(60_000))
    with TopologyTestDriver(builder.build()) as driver:
        topic = driver.create_input_topic("prices")
        topic.pipe_input("k", 1, timestamp=1_000)
        topic.pipe_input("k", 2, timestamp=2_000)
        topic.pipe_input("j", 5, timestamp=1_500)
        latest = state_frame(driver, "v")
        past = state_frame(driver, "v", as_of=1_600)
    assert list(latest.columns) == ["key", "value", "timestamp", "valid_to"]
    assert dict(zip(latest["key"], latest["value"])) == {"j": 5, "k": 2}
    assert latest["valid_to"].isna().all()
    row = past[past["key"] == "k"].iloc[0]
    assert (row["value"], row["timestamp"], row["valid_to"]) == (1, ts(1_000), ts(2_000))


def _kv_store():
    store = Stores.in_memory_key_value_store("plain").get()
    store.init(None)
    store.put("a", {"n": 1})
    return store


def test_plain_processor_api_store_has_key_and_value_only():
    frame = store_to_frame(_kv_store())
    assert list(frame.columns) == ["key", "value"]
    assert frame.iloc[0]["value"] == {"n": 1}
    with pytest.raises(ValueError, match="only applies to versioned"):
        store_to_frame(_kv_store(), as_of=5)


def test_unknown_store_is_a_clear_error():
    with TopologyTestDriver(build_topology()) as driver, pytest.raises(Exception,
                                                                        match="counts-store"):
        state_frame(driver, "nope")
