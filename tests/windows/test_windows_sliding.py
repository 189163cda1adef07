"""Sliding-window aggregation: Kafka's KStreamSlidingWindowAggregateTest expectations."""

from __future__ import annotations

import pytest

from streamnb import SlidingWindows, StreamsBuilder, TopologyTestDriver
from streamnb.dsl.windows import EmitStrategy

RECORDS = [("A", "1", 10), ("A", "2", 10), ("A", "3", 14), ("A", "4", 15), ("A", "5", 20),
           ("A", "6", 22), ("A", "7", 30)]


def _run(emit_close: bool, records: list) -> tuple[dict, TopologyTestDriver]:
    builder = StreamsBuilder()
    windowed = builder.stream("topic").group_by_key().windowed_by(
        SlidingWindows.of_time_difference_and_grace(10, 5))
    if emit_close:
        windowed = windowed.emit_strategy(EmitStrategy.on_window_close())
    table = windowed.aggregate(lambda: "0", lambda k, v, agg: agg + "+" + v,
                               materialized="store-name")
    seen: list = []
    table.to_stream().foreach(lambda k, v: seen.append(k))
    table.to_stream().to("out")
    driver = TopologyTestDriver(builder.build())
    topic = driver.create_input_topic("topic")
    for key, value, ts in records:
        topic.pipe_input(key, value, ts)
    actual: dict[int, set] = {}
    for record in driver.create_output_topic("out").read_records_to_list():
        actual.setdefault(record.key.window.start, set()).add((record.value, record.timestamp))
        assert record.key.window.end == record.key.window.start + 10
    return actual, driver


def test_sliding_aggregate_small_input_on_update() -> None:
    actual, driver = _run(False, RECORDS)
    assert actual == {
        0: {("0+1", 10), ("0+1+2", 10)},
        4: {("0+1+2+3", 14)},
        5: {("0+1+2+3+4", 15)},
        10: {("0+1+2+3+4+5", 20)},
        11: {("0+3", 14), ("0+3+4", 15), ("0+3+4+5", 20)},
        12: {("0+3+4+5+6", 22)},
        15: {("0+4", 15), ("0+4+5", 20), ("0+4+5+6", 22)},
        16: {("0+5", 20), ("0+5+6", 22)},
        20: {("0+5+6+7", 30)},
        21: {("0+6", 22), ("0+6+7", 30)},
        23: {("0+7", 30)},
    }
    store = driver.get_window_store("store-name")
    assert list(store.fetch("A", 20, 30)) == [(20, "0+5+6+7"), (21, "0+6+7"), (23, "0+7")]
    driver.close()


def test_sliding_aggregate_small_input_on_close() -> None:
    actual, driver = _run(True, RECORDS)
    assert actual == {
        0: {("0+1+2", 10)},
        4: {("0+1+2+3", 14)},
        5: {("0+1+2+3+4", 15)},
        10: {("0+1+2+3+4+5", 20)},
        11: {("0+3+4+5", 20)},
        12: {("0+3+4+5+6", 22)},
    }
    driver.close()


EARLY = [("A", "1", 0), ("A", "2", 5), ("A", "3", 6), ("A", "4", 3), ("A", "5", 13),
         ("A", "6", 10), ("A", "7", 70)]


def _run_early(emit_close: bool) -> dict:
    builder = StreamsBuilder()
    windowed = builder.stream("topic").group_by_key().windowed_by(
        SlidingWindows.of_time_difference_and_grace(50, 0))
    if emit_close:
        windowed = windowed.emit_strategy(EmitStrategy.on_window_close())
    table = windowed.aggregate(lambda: "0", lambda k, v, agg: agg + "+" + v)
    table.to_stream().to("out")
    with TopologyTestDriver(builder.build()) as driver:
        topic = driver.create_input_topic("topic")
        for key, value, ts in EARLY:
            topic.pipe_input(key, value, ts)
        actual: dict[int, set] = {}
        for r in driver.create_output_topic("out").read_records_to_list():
            actual.setdefault(r.key.window.start, set()).add((r.value, r.timestamp))
    return actual


def test_sliding_early_records_on_update() -> None:
    # Kafka's testEarlyRecordsSmallInput: records before the time difference share [0, d].
    assert _run_early(False) == {
        0: {("0+1", 0), ("0+1+2", 5), ("0+1+2+3", 6), ("0+1+2+3+4", 6),
            ("0+1+2+3+4+5", 13), ("0+1+2+3+4+5+6", 13)},
        1: {("0+2", 5), ("0+2+3", 6), ("0+2+3+4", 6), ("0+2+3+4+5", 13),
            ("0+2+3+4+5+6", 13)},
        4: {("0+2+3", 6), ("0+2+3+5", 13), ("0+2+3+5+6", 13)},
        6: {("0+3", 6), ("0+3+5", 13), ("0+3+5+6", 13)},
        7: {("0+5", 13), ("0+5+6", 13)},
        11: {("0+5", 13)},
        20: {("0+7", 70)},
    }


def test_sliding_early_records_on_close() -> None:
    assert _run_early(True) == {
        0: {("0+1+2+3+4+5+6", 13)},
        1: {("0+2+3+4+5+6", 13)},
        4: {("0+2+3+5+6", 13)},
        6: {("0+3+5+6", 13)},
        7: {("0+5+6", 13)},
        11: {("0+5", 13)},
    }


@pytest.mark.parametrize("value", [None])
def test_sliding_skips_null_values_and_counts_them(value: object) -> None:
    builder = StreamsBuilder()
    builder.stream("topic").group_by_key().windowed_by(
        SlidingWindows.of_time_difference_with_no_grace(10)).count().to_stream().to("out")
    with TopologyTestDriver(builder.build()) as driver:
        driver.create_input_topic("topic").pipe_input("A", value, 5)
        assert driver.create_output_topic("out").read_records_to_list() == []
        assert driver.metrics()["dropped-records"] == {"null key or value": 1}
