"""Session windows: Kafka's SessionWindowedKStreamImplTest expectations, merging, stores."""

from __future__ import annotations

import pytest

from streamnb import Materialized, SessionWindows, StreamsBuilder, TopologyTestDriver
from streamnb.dsl.windows import EmitStrategy, SessionWindow, Windowed

DATA = [("1", "1", 10), ("1", "2", 15), ("1", "3", 600), ("2", "1", 600), ("2", "2", 599)]


def _w(key: str, start: int, end: int) -> Windowed:
    return Windowed(key, SessionWindow(start, end))


def _drive(build, emit_close: bool = False, config: dict | None = None):  # type: ignore[no-untyped-def]
    builder = StreamsBuilder()
    windowed = builder.stream("input").group_by_key().windowed_by(
        SessionWindows.of_inactivity_gap_with_no_grace(500))
    if emit_close:
        windowed = windowed.emit_strategy(EmitStrategy.on_window_close())
    build(windowed).to_stream().to("out")
    driver = TopologyTestDriver(builder.build(), config)
    topic = driver.create_input_topic("input")
    for key, value, ts in DATA:
        topic.pipe_input(key, value, ts)
    out = [(r.key, r.value, r.timestamp)
           for r in driver.create_output_topic("out").read_records_to_list()]
    return out, driver


def test_session_count_merges_and_retracts() -> None:
    # Kafka's test reads [10, 15] back from a RocksDB segment that outlives the retention;
    # the in-memory stores expire exactly at the retention, so keep a longer one here.
    out, driver = _drive(lambda w: w.count(
        materialized=Materialized.as_("count-store").with_retention(1000)))
    assert out == [
        (_w("1", 10, 10), 1, 10), (_w("1", 10, 10), None, 10), (_w("1", 10, 15), 2, 15),
        (_w("1", 600, 600), 1, 600), (_w("2", 600, 600), 1, 600),
        (_w("2", 600, 600), None, 600), (_w("2", 599, 600), 2, 600),
    ]
    store = driver.get_session_store("count-store")
    assert list(store.fetch("1", "2")) == [(_w("1", 10, 15), 2), (_w("1", 600, 600), 1),
                                           (_w("2", 599, 600), 2)]
    assert list(store.fetch("2")) == [(_w("2", 599, 600), 2)]
    driver.close()


def test_session_count_emit_on_close() -> None:
    out, driver = _drive(lambda w: w.count(), emit_close=True)
    assert out == [(_w("1", 10, 15), 2, 15)]
    driver.close()


def test_session_reduce_and_aggregate_with_merger() -> None:
    out, driver = _drive(lambda w: w.reduce(lambda a, b: a + "+" + b))
    assert [v for _, v, _ in out] == ["1", None, "1+2", "3", "1", None, "1+2"]
    driver.close()
    out, driver = _drive(lambda w: w.aggregate(lambda: "0", lambda k, v, agg: agg + "+" + v,
                                               lambda k, a, b: a + "+" + b),
                         emit_close=True)
    assert out == [(_w("1", 10, 15), "0+0+1+2", 15)]
    driver.close()


def test_session_bridging_record_merges_two_sessions() -> None:
    builder = StreamsBuilder()
    builder.stream("in").group_by_key().windowed_by(
        SessionWindows.of_inactivity_gap_and_grace(10, 100)).aggregate(
        lambda: [], lambda k, v, agg: [*agg, v], lambda k, a, b: a + b,
        materialized="sessions").to_stream().to("out")
    with TopologyTestDriver(builder.build()) as driver:
        topic = driver.create_input_topic("in")
        topic.pipe_input("k", "a", 0)
        topic.pipe_input("k", "b", 30)
        topic.pipe_input("k", "c", 15)  # within 10 of neither... 15-0 > 10, 30-15 > 10
        topic.pipe_input("k", "d", 8)   # bridges [0,0] and [15,15]
        out = [(r.key, r.value) for r in driver.create_output_topic("out")
               .read_records_to_list()]
        assert out[-3:] == [(_w("k", 0, 0), None), (_w("k", 15, 15), None),
                            (_w("k", 0, 15), ["a", "c", "d"])]
        assert [kv.value for kv in driver.get_session_store("sessions").fetch("k")] == [
            ["a", "c", "d"], ["b"]]


def test_session_late_record_is_dropped_and_counted() -> None:
    builder = StreamsBuilder()
    builder.stream("in").group_by_key().windowed_by(
        SessionWindows.of_inactivity_gap_and_grace(10, 5)).count().to_stream().to("out")
    with TopologyTestDriver(builder.build()) as driver:
        topic = driver.create_input_topic("in")
        topic.pipe_input("k", "a", 100)
        topic.pipe_input("k", "b", 84)   # close time 100-5-10=85: end 84 < 85 -> dropped
        topic.pipe_input("k", "c", 85)   # end 85 is not < 85: kept
        out = driver.create_output_topic("out").read_key_values_to_list()
        assert out == [(_w("k", 100, 100), 1), (_w("k", 85, 85), 1)]
        assert driver.metrics()["dropped-records"] == {"expired window": 1}


def test_session_windowed_keys_serialize_with_kafka_layout() -> None:
    from streamnb.dsl._windowed_serde import SessionWindowedSerde
    from streamnb.serde import Serdes

    builder = StreamsBuilder()
    builder.stream("in").group_by_key().windowed_by(
        SessionWindows.of_inactivity_gap_with_no_grace(10)).count().to_stream().to("out")
    config = {"default.key.serde": "string"}
    with TopologyTestDriver(builder.build(), config) as driver:
        driver.create_input_topic("in").pipe_input("ab", "x", 7)
        raw = driver.create_output_topic("out", key_serde=Serdes.Bytes(),
                                         value_serde=Serdes.Long()).read_key_value()
        assert raw.key == b"ab" + (7).to_bytes(8, "big") + (7).to_bytes(8, "big")
        assert raw.value == 1
        serde = SessionWindowedSerde(Serdes.String())
        assert serde.deserialize("out", raw.key) == _w("ab", 7, 7)


@pytest.mark.parametrize("bad", [0, -1])
def test_session_gap_must_be_positive(bad: int) -> None:
    with pytest.raises(ValueError, match="Gap time cannot be zero or negative"):
        SessionWindows.of_inactivity_gap_with_no_grace(bad)


def test_session_retention_must_cover_gap_and_grace() -> None:
    builder = StreamsBuilder()
    windowed = builder.stream("in").group_by_key().windowed_by(
        SessionWindows.of_inactivity_gap_and_grace(100, 50))
    with pytest.raises(ValueError, match="retention period of the session store s"):
        windowed.count(materialized=Materialized.as_("s").with_retention(120))
