"""The TopologyTestDriver API of API.md, with Kafka's TopologyTestDriverTest / TestTopicsTest
expectations: piping forms and timestamps, reads, errors, stores, wall clock, close."""

import datetime as dt

import pytest

from streamnb import KeyValue, Serdes, StreamsBuilder, TestRecord, TopologyTestDriver
from streamnb.errors import NoSuchElementException, SerializationException, StreamsException


def _pass_through():
    builder = StreamsBuilder()
    builder.stream("in").to("out")
    return builder.build()


@pytest.fixture
def driver():
    with TopologyTestDriver(_pass_through(), initial_wall_clock_time=1000) as d:
        yield d


def _records(out):
    return [(r.key, r.value, r.timestamp) for r in out.read_records_to_list()]


def test_pipe_input_forms(driver):
    inp = driver.create_input_topic("in")
    out = driver.create_output_topic("out")
    inp.pipe_input("k", "v", 5)
    inp.pipe_input("value-only")
    inp.pipe_input(None, "explicit-null-key", 6)
    inp.pipe_input(TestRecord("rk", "rv", 7, [("h", b"x")]))
    records = out.read_records_to_list()
    assert [(r.key, r.value, r.timestamp) for r in records] == [
        ("k", "v", 5), (None, "value-only", 1000), (None, "explicit-null-key", 6),
        ("rk", "rv", 7)]
    assert records[3].headers.last_header("h") == b"x"


def test_auto_advance_and_explicit_times(driver):
    inp = driver.create_input_topic("in", start_timestamp=100, auto_advance=dt.timedelta(
        milliseconds=10))
    out = driver.create_output_topic("out")
    inp.pipe_input("a", 1)
    inp.pipe_input("b", 2, 5)   # explicit timestamp does not move the topic's clock
    inp.pipe_input("c", 3)
    inp.advance_time(100)
    inp.pipe_input("d", 4)
    assert _records(out) == [("a", 1, 100), ("b", 2, 5), ("c", 3, 110), ("d", 4, 220)]
    with pytest.raises(ValueError):
        driver.create_input_topic("in", auto_advance=-1)
    with pytest.raises(ValueError):
        inp.advance_time(-1)


def test_pipe_lists_with_start_and_advance(driver):
    inp = driver.create_input_topic("in", start_timestamp=0, auto_advance=1)
    out = driver.create_output_topic("out")
    inp.pipe_key_value_list([("a", 1), ("b", 2)], start=50, advance=dt.timedelta(seconds=1))
    inp.pipe_value_list([3, 4], start=10, advance=5)
    inp.pipe_key_value_list([KeyValue("c", 5), ("d", 6)])  # no start: auto-advance from 0
    assert _records(out) == [("a", 1, 50), ("b", 2, 1050), (None, 3, 10), (None, 4, 15),
                             ("c", 5, 0), ("d", 6, 1)]


def test_reads(driver):
    inp = driver.create_input_topic("in")
    out = driver.create_output_topic("out")
    assert out.is_empty() and out.get_queue_size() == 0
    assert out.read_values_to_list() == [] and out.read_key_values_to_map() == {}
    inp.pipe_key_value_list([("a", 1), ("b", 2), ("a", 3), ("c", None)], start=0)
    assert out.get_queue_size() == 4 and not out.is_empty()
    assert out.read_value() == 1
    kv = out.read_key_value()
    assert kv == ("b", 2) and kv.key == "b" and kv.value == 2
    assert out.read_key_values_to_map() == {"a": 3, "c": None}
    inp.pipe_input("x", 9, 3)
    record = out.read_record()
    assert (record.key, record.value, record.timestamp) == ("x", 9, 3)
    inp.pipe_value_list([1], start=0)
    with pytest.raises(NoSuchElementException, match="Null keys not allowed with "
                                                     "readKeyValuesToMap method"):
        out.read_key_values_to_map()


def test_empty_and_uninitialized_topic_errors(driver):
    out = driver.create_output_topic("out")
    with pytest.raises(NoSuchElementException, match="^Uninitialized topic: out$"):
        out.read_value()
    with pytest.raises(NoSuchElementException, match="Uninitialized topic: nowhere"):
        driver.create_output_topic("nowhere").read_record()
    driver.create_input_topic("in").pipe_input("k", "v")
    out.read_value()
    for read in (out.read_value, out.read_key_value, out.read_record):
        with pytest.raises(NoSuchElementException, match="^Empty topic: out$"):
            read()


def test_unknown_input_topic(driver):
    with pytest.raises(ValueError, match="Unknown topic: nope"):
        driver.create_input_topic("nope").pipe_input("k", "v")


def test_serdes_on_input_and_output_topics():
    builder = StreamsBuilder()
    builder.stream("in").map_values(lambda v: v * 2).to("out")
    config = {"default.key.serde": "string", "default.value.serde": "long"}
    with TopologyTestDriver(builder.build(), config) as driver:
        inp = driver.create_input_topic("in")
        inp.pipe_input("k", 21)
        assert driver.create_output_topic("out", Serdes.String(), Serdes.Long()
                                          ).read_key_value() == ("k", 42)
        with pytest.raises(SerializationException) as info:
            inp.pipe_input("k", "not a long")
        message = str(info.value)
        assert "'in'" in message and "partition 0" in message and "offset 1" in message
        # A custom (serializer, deserializer) pair on an output topic.
        inp.pipe_input("k", 1)
        custom = (lambda s: s.encode(), lambda b: int.from_bytes(b, "big"))
        assert driver.create_output_topic("out", "string", custom).read_value() == 2


def test_serialization_error_inside_the_topology_names_the_sink_topic():
    builder = StreamsBuilder()
    builder.stream("in").map_values(lambda v: {1, 2}).to("out")
    with TopologyTestDriver(builder.build()) as driver, pytest.raises(
            SerializationException, match="topic 'out'.*partition 0, offset 0"):
        driver.create_input_topic("in").pipe_input("k", "v")


def test_key_value_store_api():
    builder = StreamsBuilder()
    builder.stream("in").to_table(materialized="tbl")
    with TopologyTestDriver(builder.build()) as driver:
        driver.create_input_topic("in").pipe_key_value_list(
            [("b", 2), ("a", 1), ("c", 3), ("d", 4)], start=0)
        store = driver.get_key_value_store("tbl")
        assert store.get("a") == 1 and store.get("zz") is None
        assert list(store.all()) == [("a", 1), ("b", 2), ("c", 3), ("d", 4)]
        assert [kv.key for kv in store.range("b", "c")] == ["b", "c"]
        assert store.approximate_num_entries() == 4
        with pytest.raises(StreamsException, match="no state store named 'nope'"):
            driver.get_key_value_store("nope")


def test_records_through_repartition_topics_complete_before_pipe_returns():
    builder = StreamsBuilder()
    builder.stream("in").select_key(lambda k, v: v).group_by_key().count().to_stream().to("out")
    with TopologyTestDriver(builder.build(), {"application.id": "app"}) as driver:
        driver.create_input_topic("in").pipe_input("k", "v", 3)
        assert driver.create_output_topic("out").read_key_value() == ("v", 1)
        produced = driver.produced_topic_names()
        assert "app-KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition" in produced
        assert "app-KSTREAM-AGGREGATE-STATE-STORE-0000000002-changelog" in produced


def test_close_is_idempotent_and_closed_driver_refuses_work():
    driver = TopologyTestDriver(_pass_through())
    inp = driver.create_input_topic("in")
    driver.close()
    driver.close()
    with pytest.raises(StreamsException):
        inp.pipe_input("k", "v")


def test_driver_rejects_a_builder():
    with pytest.raises(TypeError, match="builder.build()"):
        TopologyTestDriver(StreamsBuilder())
