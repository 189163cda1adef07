"""IQv2 against a TopologyTestDriver: every query type, bounds, failures, DataFrames."""

from __future__ import annotations

from datetime import timedelta

import pytest

from streamnb import Materialized, StreamsBuilder, TimeWindows, TopologyTestDriver
from streamnb.dsl.windows import SessionWindows
from streamnb.query import (
    FailureReason,
    KeyQuery,
    MultiVersionedKeyQuery,
    Position,
    PositionBound,
    RangeQuery,
    StateQueryRequest,
    TimestampedKeyQuery,
    UnknownStateStoreException,
    VersionedKeyQuery,
    WindowKeyQuery,
    WindowRangeQuery,
)


def _req(store, query):
    return StateQueryRequest.in_store(store).with_query(query)


@pytest.fixture
def driver():
    b = StreamsBuilder()
    words = b.stream("words")
    words.group_by(lambda _k, w: w).count(materialized=Materialized.as_("counts"))
    (words.group_by(lambda _k, w: w)
     .windowed_by(TimeWindows.of_size_and_grace(1000, 10_000)).count(materialized="wcounts"))
    (words.group_by(lambda _k, w: w)
     .windowed_by(SessionWindows.of_inactivity_gap_and_grace(100, 10_000))
     .count(materialized="scounts"))
    b.table("prices", materialized=Materialized.as_("vprices").with_versioned(
        timedelta(hours=1)))
    d = TopologyTestDriver(b.build())
    inp = d.create_input_topic("words")
    for i, w in enumerate(["a", "b", "a", "c", "a", "b", "d"]):
        inp.pipe_input(None, w, timestamp=i * 400)
    prices = d.create_input_topic("prices")
    prices.pipe_input("x", 10, timestamp=1000)
    prices.pipe_input("x", 11, timestamp=2000)
    prices.pipe_input("x", 12, timestamp=3000)
    yield d
    d.close()


def test_key_query_and_timestamped(driver):
    result = driver.query(_req("counts", KeyQuery.with_key("a")))
    assert result.get_only_partition_result().result == 3
    assert list(result.partition_results) == [0]
    missing = driver.query(_req("counts", KeyQuery.with_key("zz")))
    assert missing.partition_results[0].result is None
    assert missing.get_only_partition_result() is None
    ts = driver.query(_req("counts", TimestampedKeyQuery.with_key("b")))
    assert ts.partition_results[0].result == (2, 2000)


def test_range_bounds_order_and_pages(driver):
    def keys(query):
        return [kv.key for kv in driver.query(_req("counts", query)).partition_results[0].result]

    assert keys(RangeQuery.with_no_bounds()) == ["a", "b", "c", "d"]
    assert keys(RangeQuery.with_range("b", "c")) == ["b", "c"]
    assert keys(RangeQuery.with_lower_bound("c")) == ["c", "d"]
    assert keys(RangeQuery.with_upper_bound("b").with_descending_keys()) == ["b", "a"]
    assert keys(RangeQuery.with_no_bounds().with_page(2)) == ["a", "b"]
    assert keys(RangeQuery.with_no_bounds().with_page(2, after="b")) == ["c", "d"]
    assert keys(RangeQuery.with_no_bounds().with_descending_keys().with_page(3, after="d")) == [
        "c", "b", "a"]
    with pytest.raises(ValueError, match="positive int"):
        RangeQuery.with_no_bounds().with_page(0)


def test_window_and_session_queries(driver):
    result = driver.query(_req("wcounts", WindowKeyQuery.with_key_and_window_start_range(
        "a", 0, 5000)))
    assert [tuple(kv) for kv in result.partition_results[0].result] == [(0, 2), (1000, 1)]
    ranged = driver.query(_req("wcounts", WindowRangeQuery.with_window_start_range(0, 999)))
    rows = [(kv.key.key, kv.key.window.start, kv.value)
            for kv in ranged.partition_results[0].result]
    assert sorted(rows) == [("a", 0, 2), ("b", 0, 1)]
    by_key = driver.query(_req("wcounts", WindowRangeQuery.with_key("b")))
    assert [(kv.key.window.start, kv.key.window.end, kv.value)
            for kv in by_key.partition_results[0].result] == [(0, 1000, 1), (2000, 3000, 1)]
    sessions = driver.query(_req("scounts", WindowRangeQuery.with_key("a")))
    assert [kv.value for kv in sessions.partition_results[0].result] == [1, 1, 1]
    refused = driver.query(_req("scounts", WindowRangeQuery.with_window_start_range(0, 10)))
    assert refused.partition_results[0].failure_reason is FailureReason.UNKNOWN_QUERY_TYPE


def test_versioned_queries(driver):
    latest = driver.query(_req("vprices", VersionedKeyQuery.with_key("x")))
    assert latest.partition_results[0].result.value == 12
    old = driver.query(_req("vprices", VersionedKeyQuery.with_key("x").as_of(2500)))
    record = old.partition_results[0].result
    assert (record.value, record.timestamp, record.valid_to) == (11, 2000, 3000)
    assert driver.query(_req("vprices", VersionedKeyQuery.with_key("x").as_of(500))
                        ).partition_results[0].result is None
    many = driver.query(_req("vprices", MultiVersionedKeyQuery.with_key("x").from_time(1500)
                             .to_time(2500).with_descending_timestamps()))
    assert [v.value for v in many.partition_results[0].result] == [11, 10]
    frame = many.to_pandas()
    assert list(frame.columns) == ["key", "value", "valid_from", "valid_to", "partition"]
    assert frame["value"].tolist() == [11, 10]


def test_wrong_store_type_and_unknown_store(driver):
    wrong = driver.query(_req("counts", VersionedKeyQuery.with_key("a")))
    failure = wrong.partition_results[0]
    assert failure.failure_reason is FailureReason.UNKNOWN_QUERY_TYPE
    assert "key_value store" in failure.failure_message
    with pytest.raises(Exception, match="failed on partition 0"):
        failure.get_result()
    with pytest.raises(UnknownStateStoreException, match="no such store"):
        driver.query(_req("nope", KeyQuery.with_key("a")))
    with pytest.raises(TypeError, match="StateQueryRequest"):
        driver.query(KeyQuery.with_key("a"))
    with pytest.raises(ValueError, match="None"):
        KeyQuery.with_key(None)


def test_partitions_and_position_bounds(driver):
    result = driver.query(_req("counts", KeyQuery.with_key("a")).with_partitions({0, 3}))
    assert result.partition_results[3].failure_reason is FailureReason.DOES_NOT_EXIST
    assert result.partition_results[0].result == 3
    assert result.position.partition_positions("words") == {0: 6}
    fresh = PositionBound.at(Position.from_map({"words": {0: 6}}))
    ok = driver.query(_req("counts", KeyQuery.with_key("a")).with_position_bound(fresh))
    assert ok.partition_results[0].result == 3
    stale = PositionBound.at({"words": {0: 7}})
    refused = driver.query(_req("counts", KeyQuery.with_key("a")).with_position_bound(stale))
    assert refused.partition_results[0].failure_reason is FailureReason.NOT_UP_TO_BOUND
    driver.create_input_topic("words").pipe_input(None, "a", timestamp=5000)
    now = driver.query(_req("counts", KeyQuery.with_key("a")).with_position_bound(stale))
    assert now.partition_results[0].result == 4
    other_partition = PositionBound.at({"words": {1: 99}})  # bounds only partition 1
    assert driver.query(_req("counts", KeyQuery.with_key("a")).with_position_bound(
        other_partition)).partition_results[0].is_success()


def test_to_pandas_and_execution_info(driver):
    result = driver.query(_req("counts", RangeQuery.with_no_bounds()).enable_execution_info())
    frame = result.to_pandas()
    assert frame.to_dict("records")[0] == {"key": "a", "value": 3, "partition": 0}
    assert result.partition_results[0].execution_info[0].startswith("Handled in")
    windows = driver.query(_req("wcounts", WindowRangeQuery.with_key("a"))).to_pandas()
    assert list(windows.columns) == ["key", "window_start", "window_end", "value", "partition"]
