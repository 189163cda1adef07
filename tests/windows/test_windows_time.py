"""Tumbling and hopping windows: bounds, grace, late drops, emit on close, describe()."""

from __future__ import annotations

import datetime as dt

import pytest

from streamnb import (
    Materialized,
    SlidingWindows,
    StreamsBuilder,
    TimeWindows,
    TopologyTestDriver,
    Window,
    Windowed,
)
from streamnb.dsl.windows import EmitStrategy, SessionWindow, TimeWindow

WINDOWED_COUNT_TOPOLOGY = """Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic])
      --> KSTREAM-AGGREGATE-0000000002
    Processor: KSTREAM-AGGREGATE-0000000002 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000001])
      --> none
      <-- KSTREAM-SOURCE-0000000000

"""


def test_describe_windowed_count_matches_kafka() -> None:
    builder = StreamsBuilder()
    builder.stream("input-topic").group_by_key().windowed_by(
        TimeWindows.of_size_with_no_grace(1)).count()
    assert str(builder.build().describe()) == WINDOWED_COUNT_TOPOLOGY


def test_describe_windowed_count_naming_variants() -> None:
    builder = StreamsBuilder()
    builder.stream("input-topic").group_by_key().windowed_by(
        TimeWindows.of_size_with_no_grace(1)).count(materialized="count-store")
    assert "Processor: KSTREAM-AGGREGATE-0000000001 (stores: [count-store])" in str(
        builder.build().describe())
    builder = StreamsBuilder()
    builder.stream("input-topic").group_by_key().windowed_by(
        TimeWindows.of_size_with_no_grace(1)).count(
        materialized=Materialized.with_(None, "long"))
    assert ("Processor: KSTREAM-AGGREGATE-0000000003 "
            "(stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000002])") in str(
        builder.build().describe())
    builder = StreamsBuilder()  # sliding windows burn no extra name
    builder.stream("input-topic").group_by_key().windowed_by(
        SlidingWindows.of_time_difference_with_no_grace(1)).count(
        materialized=Materialized.with_(None, "long"))
    assert ("Processor: KSTREAM-AGGREGATE-0000000002 "
            "(stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000001])") in str(
        builder.build().describe())


def test_windows_for_matches_kafka_bounds() -> None:
    tumbling = TimeWindows.of_size_with_no_grace(10)
    assert list(tumbling.windows_for(25)) == [20]
    assert tumbling.windows_for(25)[20] == TimeWindow(20, 30)
    hopping = TimeWindows.of_size_with_no_grace(10).advance_by(3)
    assert list(hopping.windows_for(21)) == [12, 15, 18, 21]
    assert list(hopping.windows_for(2)) == [0]  # never a negative start
    assert list(TimeWindows.of_size_with_no_grace(dt.timedelta(minutes=1))
                .windows_for(61_000)) == [60_000]


@pytest.mark.parametrize("make, message", [
    (lambda: TimeWindows.of_size_with_no_grace(0), "Window size"),
    (lambda: TimeWindows.of_size_with_no_grace(-5), "Window size"),
    (lambda: TimeWindows.of_size_and_grace(10, -1), "Grace period must not be negative"),
    (lambda: TimeWindows.of_size_with_no_grace(10).advance_by(11), "advancement interval"),
    (lambda: TimeWindows.of_size_with_no_grace(10).advance_by(0), "advancement interval"),
    (lambda: SlidingWindows.of_time_difference_with_no_grace(-1), "time difference"),
    (lambda: SlidingWindows.of_time_difference_and_grace(5, -1), "grace period"),
])
def test_bad_window_definitions_raise(make, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_window_arguments_raise() -> None:
    with pytest.raises(TypeError, match="timedelta or an int"):
        TimeWindows.of_size_with_no_grace("1m")
    builder = StreamsBuilder()
    with pytest.raises(TypeError, match="windowed_by takes TimeWindows"):
        builder.stream("in").group_by_key().windowed_by(60_000)
    with pytest.raises(ValueError, match="Window startMs time cannot be negative"):
        Window(-1, 5)
    with pytest.raises(ValueError, match="retention period of the window store w"):
        builder.stream("in2").group_by_key().windowed_by(
            TimeWindows.of_size_and_grace(100, 50)).count(
            materialized=Materialized.as_("w").with_retention(120))


def test_window_and_windowed_values() -> None:
    assert TimeWindow(0, 10).overlap(TimeWindow(5, 15))
    assert not TimeWindow(0, 10).overlap(TimeWindow(10, 20))
    assert SessionWindow(0, 10).overlap(SessionWindow(10, 20))
    key = Windowed("k", TimeWindow(0, 10))
    assert key == Windowed("k", Window(0, 10)) and hash(key) == hash(Windowed("k", Window(0, 10)))
    assert repr(key) == "[k@0/10]"
    assert key.window.start == 0 and key.window.end == 10


def _tumbling(grace: int, emit_close: bool = False, store: str | None = "counts"):  # type: ignore[no-untyped-def]
    builder = StreamsBuilder()
    windowed = builder.stream("in").group_by_key().windowed_by(
        TimeWindows.of_size_and_grace(10, grace))
    if emit_close:
        windowed = windowed.emit_strategy(EmitStrategy.on_window_close())
    windowed.count(materialized=store).to_stream().to("out")
    return TopologyTestDriver(builder.build())


def test_tumbling_count_to_sink_with_default_serdes() -> None:
    with _tumbling(0) as driver:
        topic = driver.create_input_topic("in")
        for key, ts in (("a", 1), ("a", 9), ("b", 5), ("a", 10), ("a", 12)):
            topic.pipe_input(key, "v", ts)
        out = driver.create_output_topic("out")
        records = [(r.key, r.value, r.timestamp) for r in out.read_records_to_list()]
        assert records == [
            (Windowed("a", TimeWindow(0, 10)), 1, 1), (Windowed("a", TimeWindow(0, 10)), 2, 9),
            (Windowed("b", TimeWindow(0, 10)), 1, 5), (Windowed("a", TimeWindow(10, 20)), 1, 10),
            (Windowed("a", TimeWindow(10, 20)), 2, 12),
        ]
        store = driver.get_window_store("counts")
        assert list(store.fetch("a", 0, 100)) == [(10, 2)]  # window 0 expired (no grace)
        assert store.fetch("a", 10) == 2


def test_time_window_key_bytes_match_kafka_layout() -> None:
    from streamnb.dsl._windowed_serde import TimeWindowedSerde
    from streamnb.serde import Serdes

    builder = StreamsBuilder()
    builder.stream("in").group_by_key().windowed_by(
        TimeWindows.of_size_with_no_grace(10)).count().to_stream().to("out")
    with TopologyTestDriver(builder.build(), {"default.key.serde": "string"}) as driver:
        driver.create_input_topic("in").pipe_input("k", "v", 13)
        raw = driver.create_output_topic("out", key_serde=Serdes.Bytes()).read_key_value()
        assert raw.key == b"k" + (10).to_bytes(8, "big")
        serde = TimeWindowedSerde(Serdes.String(), 10)
        assert serde.deserialize("out", raw.key) == Windowed("k", TimeWindow(10, 20))


def test_late_records_within_and_beyond_grace() -> None:
    with _tumbling(5) as driver:
        topic = driver.create_input_topic("in")
        topic.pipe_input("a", "v", 12)   # stream time 12
        topic.pipe_input("a", "v", 3)    # window [0,10) closes at 10 + 5 = 15: accepted
        topic.pipe_input("a", "v", 15)   # stream time 15: [0,10) is now closed
        topic.pipe_input("a", "v", 4)    # late beyond grace: dropped and counted
        out = driver.create_output_topic("out").read_key_values_to_list()
        assert [(k.window.start, v) for k, v in out] == [(10, 1), (0, 1), (10, 2)]
        assert driver.metrics()["dropped-records"] == {"expired window": 1}
        assert driver.metrics()["dropped-records-total"] == 1


def test_null_key_is_dropped_null_value_counts() -> None:
    with _tumbling(0) as driver:
        topic = driver.create_input_topic("in")
        topic.pipe_input(None, "v", 1)
        topic.pipe_input("a", None, 2)  # Kafka's time-window aggregate counts a null value
        out = driver.create_output_topic("out").read_key_values_to_list()
        assert [(k.key, v) for k, v in out] == [("a", 1)]
        assert driver.metrics()["dropped-records"] == {"null key": 1}


def test_emit_on_window_close_forwards_final_counts_once() -> None:
    with _tumbling(2, emit_close=True) as driver:
        topic = driver.create_input_topic("in")
        for key, ts in (("a", 1), ("b", 3), ("a", 8), ("a", 11), ("b", 11)):
            topic.pipe_input(key, "v", ts)
        out = driver.create_output_topic("out")
        assert out.read_records_to_list() == []
        topic.pipe_input("a", "v", 12)  # stream time 12 = 10 + grace: [0,10) closes
        assert [(r.key, r.value, r.timestamp) for r in out.read_records_to_list()] == [
            (Windowed("a", TimeWindow(0, 10)), 2, 8), (Windowed("b", TimeWindow(0, 10)), 1, 3)]
        topic.pipe_input("a", "v", 13)  # nothing new closed
        assert out.read_records_to_list() == []
        topic.pipe_input("c", "v", 40)
        assert [(r.key, r.value) for r in out.read_records_to_list()] == [
            (Windowed("a", TimeWindow(10, 20)), 3), (Windowed("b", TimeWindow(10, 20)), 1)]


def test_hopping_reduce_with_repartition() -> None:
    builder = StreamsBuilder()
    (builder.stream("in").group_by(lambda k, v: v["user"])
     .windowed_by(TimeWindows.of_size_with_no_grace(10).advance_by(5))
     .reduce(lambda agg, v: {"user": v["user"], "n": agg["n"] + v["n"]}, materialized="sums")
     .to_stream().map(lambda k, v: (f"{k.key}@{k.window.start}", v["n"])).to("out"))
    topology = builder.build()
    assert "sums-repartition" in str(topology.describe())
    with TopologyTestDriver(topology) as driver:
        topic = driver.create_input_topic("in")
        topic.pipe_input(None, {"user": "u", "n": 1}, 4)
        topic.pipe_input(None, {"user": "u", "n": 2}, 7)
        out = driver.create_output_topic("out").read_key_values_to_list()
        assert out == [("u@0", 1), ("u@0", 3), ("u@5", 2)]
