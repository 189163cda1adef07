"""Stream and table aggregations, with the expected outputs of Kafka's KGroupedStreamImplTest,
KGroupedTableImplTest, KTableAggregateTest and KStreamImplTest."""

import logging

from streamnb import Materialized, Serdes, StreamsBuilder, TopologyTestDriver, ValueAndTimestamp
from streamnb.dsl import Consumed, Grouped, Named

STR = Serdes.String()


def _stream_data(driver):
    inp = driver.create_input_topic("topic", STR, STR)
    inp.pipe_input("1", "A", 5)
    inp.pipe_input("2", "B", 1)
    inp.pipe_input("1", "C", 3)
    inp.pipe_input("1", "D", 10)
    inp.pipe_input("3", "E", 8)
    inp.pipe_input("3", "F", 9)
    inp.pipe_input("3", None)


def _grouped_stream():
    builder = StreamsBuilder()
    return builder, builder.stream("topic", Consumed.with_(STR, STR)).group_by_key()


def test_stream_count_materialized_timestamps_are_max_and_nulls_dropped(caplog):
    builder, grouped = _grouped_stream()
    grouped.count(materialized=Materialized.as_("count").with_key_serde(STR))
    with TopologyTestDriver(builder.build()) as driver, caplog.at_level(logging.WARNING):
        _stream_data(driver)
        count = driver.get_key_value_store("count")
        assert (count.get("1"), count.get("2"), count.get("3")) == (3, 1, 2)
        ts = driver.get_timestamped_key_value_store("count")
        assert ts.get("1") == ValueAndTimestamp(3, 10)
        assert ts.get("2") == ValueAndTimestamp(1, 1)
        assert ts.get("3") == ValueAndTimestamp(2, 9)
        assert driver.metrics()["dropped-records-total"] == 1
    assert ("Skipping record due to null key or value. topic=[topic] partition=[0] offset=[6]"
            in caplog.messages)


def test_stream_reduce_and_aggregate_materialized():
    builder, grouped = _grouped_stream()
    grouped.reduce(lambda a, b: a + "+" + b, materialized="reduce")
    grouped.aggregate(lambda: "0", lambda k, v, agg: agg + "+" + v, materialized="aggregate")
    with TopologyTestDriver(builder.build()) as driver:
        _stream_data(driver)
        reduced = driver.get_timestamped_key_value_store("reduce")
        assert reduced.get("1") == ValueAndTimestamp("A+C+D", 10)
        assert reduced.get("2") == ValueAndTimestamp("B", 1)
        assert reduced.get("3") == ValueAndTimestamp("E+F", 9)
        agg = driver.get_key_value_store("aggregate")
        assert [(kv.key, kv.value) for kv in agg.all()] == [
            ("1", "0+A+C+D"), ("2", "0+B"), ("3", "0+E+F")]
        assert agg.approximate_num_entries() == 3
        assert list(agg.range("2", "3")) == [("2", "0+B"), ("3", "0+E+F")]


def test_stream_count_updates_forward_with_max_timestamp():
    builder, grouped = _grouped_stream()
    grouped.count().to_stream().to("out")
    with TopologyTestDriver(builder.build()) as driver:
        _stream_data(driver)
        out = driver.create_output_topic("out").read_records_to_list()
        assert [(r.key, r.value, r.timestamp) for r in out] == [
            ("1", 1, 5), ("2", 1, 1), ("1", 2, 5), ("1", 3, 10), ("3", 1, 8), ("3", 2, 9)]


def test_group_by_repartitions_and_drops_null_keys_in_the_aggregation():
    builder = StreamsBuilder()
    (builder.stream("in").group_by(lambda k, v: v.get("g"), Grouped.as_("by-g"))
     .count(Named.as_("counter")).to_stream().to("out"))
    topology = builder.build()
    text = str(topology.describe())
    assert "Sink: by-g-repartition-sink (topic: by-g-repartition)" in text
    assert "Processor: counter (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000002])" in text
    with TopologyTestDriver(topology, {"application.id": "app"}) as driver:
        inp = driver.create_input_topic("in")
        inp.pipe_input("k1", {"g": "a"}, 1)
        inp.pipe_input("k2", {"g": None}, 2)
        inp.pipe_input("k3", {"g": "a"}, 3)
        assert driver.create_output_topic("out").read_key_values_to_list() == [("a", 1), ("a", 2)]
        repartition = driver.create_output_topic("app-by-g-repartition")
        assert repartition.get_queue_size() == 3  # the null key still goes through the topic
        assert driver.metrics()["dropped-records-total"] == 1


def test_grouped_stream_used_twice_without_name_gets_two_repartition_topics():
    builder = StreamsBuilder()
    grouped = builder.stream("in").select_key(lambda k, v: v).group_by_key()
    grouped.count()
    grouped.reduce(lambda a, b: a)
    text = str(builder.build().describe())
    assert "KSTREAM-AGGREGATE-STATE-STORE-0000000002-repartition" in text
    assert "KSTREAM-REDUCE-STATE-STORE-0000000007-repartition" in text


def test_kstream_to_ktable_group_by_count_worked_example():
    """KStreamImplTest.shouldSupportGroupByCountWithKStreamToKTable."""
    builder = StreamsBuilder()
    (builder.stream("input", Consumed.with_(STR, STR)).to_table()
     .group_by(lambda k, v: (v, v), Grouped.with_(STR, STR)).count().to_stream().to("output"))
    with TopologyTestDriver(builder.build()) as driver:
        inp = driver.create_input_topic("input", STR, STR)
        for key, value, ts in (("A", "green", 10), ("B", "green", 9), ("A", "blue", 12),
                               ("C", "yellow", 15), ("D", "green", 11)):
            inp.pipe_input(key, value, ts)
        out = driver.create_output_topic("output", STR, Serdes.Long()).read_records_to_list()
        assert [(r.key, r.value, r.timestamp) for r in out] == [
            ("green", 1, 10), ("green", 2, 10), ("green", 1, 12), ("blue", 1, 12),
            ("yellow", 1, 15), ("green", 2, 12)]


def _table_agg(selector):
    builder = StreamsBuilder()
    (builder.table("topic1", Consumed.with_(STR, STR))
     .group_by(selector, Grouped.with_(STR, STR))
     .aggregate(lambda: "0", lambda k, v, agg: agg + "+" + v, lambda k, v, agg: agg + "-" + v,
                materialized=Materialized.as_("topic1-Canonized").with_value_serde(STR))
     .to_stream().to("out"))
    return builder


def test_table_aggregate_basic():
    builder = _table_agg(lambda k, v: (k, v))
    with TopologyTestDriver(builder.build()) as driver:
        inp = driver.create_input_topic("topic1", STR, STR)
        for k, v, ts in (("A", "1", 10), ("B", "2", 15), ("A", "3", 20), ("B", "4", 18),
                         ("C", "5", 5), ("D", "6", 25), ("B", "7", 15), ("C", "8", 10)):
            inp.pipe_input(k, v, ts)
        out = driver.create_output_topic("out").read_records_to_list()
        assert [(r.key, r.value, r.timestamp) for r in out] == [
            ("A", "0+1", 10), ("B", "0+2", 15), ("A", "0+1-1+3", 20), ("B", "0+2-2+4", 18),
            ("C", "0+5", 5), ("D", "0+6", 25), ("B", "0+2-2+4-4+7", 18),
            ("C", "0+5-5+8", 10)]


def test_table_aggregate_repartition_skips_null_pairs():
    def selector(key, value):
        if key == "null":
            return (None, value)
        if key == "NULL":
            return None
        return (value, value)

    builder = _table_agg(selector)
    with TopologyTestDriver(builder.build()) as driver:
        inp = driver.create_input_topic("topic1", STR, STR)
        for k, v, ts in (("A", "1", 10), ("A", None, 15), ("A", "1", 12), ("B", "2", 20),
                         ("null", "3", 25), ("B", "4", 23), ("NULL", "5", 24),
                         ("B", "7", 22)):
            inp.pipe_input(k, v, ts)
        out = driver.create_output_topic("out").read_records_to_list()
        assert [(r.key, r.value, r.timestamp) for r in out] == [
            ("1", "0+1", 10), ("1", "0+1-1", 15), ("1", "0+1-1+1", 15), ("2", "0+2", 20),
            ("2", "0+2-2", 23), ("4", "0+4", 23), ("4", "0+4-4", 23), ("7", "0+7", 22)]


def test_table_reduce_timestamps():
    builder = StreamsBuilder()
    (builder.table("topic", Consumed.with_(STR, Serdes.Double()),
                   Materialized.as_("store").with_key_serde(STR).with_value_serde(Serdes.Double()))
     .group_by(lambda k, v: (k, int(v)))
     .reduce(lambda a, b: a + b, lambda a, b: a - b, materialized="reduced"))
    with TopologyTestDriver(builder.build()) as driver:
        inp = driver.create_input_topic("topic", STR, Serdes.Double())
        inp.pipe_input("A", 1.1, 10)
        inp.pipe_input("B", 2.2, 11)
        reduced = driver.get_timestamped_key_value_store("reduced")
        assert reduced.get("A") == ValueAndTimestamp(1, 10)
        assert reduced.get("B") == ValueAndTimestamp(2, 11)
        inp.pipe_input("A", 2.6, 30)
        inp.pipe_input("B", 1.3, 30)
        inp.pipe_input("A", 5.7, 50)
        inp.pipe_input("B", 6.2, 20)
        assert reduced.get("A") == ValueAndTimestamp(5, 50)
        assert reduced.get("B") == ValueAndTimestamp(6, 30)


def test_table_count_and_aggregate_materialized():
    builder = StreamsBuilder()
    grouped = (builder.table("topic", Consumed.with_(STR, STR))
               .group_by(lambda k, v: (v, v), Grouped.with_(STR, STR)))
    grouped.count(materialized=Materialized.as_("count"))
    grouped.aggregate(lambda: "0", lambda k, v, a: a + "+" + v, lambda k, v, a: a + "-" + v,
                      materialized=Materialized.as_("aggregate"))
    with TopologyTestDriver(builder.build()) as driver:
        inp = driver.create_input_topic("topic", STR, STR)
        for k, v, ts in (("A", "1", 10), ("B", "1", 50), ("C", "1", 30), ("D", "2", 40),
                         ("E", "2", 60)):
            inp.pipe_input(k, v, ts)
        counts = driver.get_timestamped_key_value_store("count")
        assert counts.get("1") == ValueAndTimestamp(3, 50)
        assert counts.get("2") == ValueAndTimestamp(2, 60)
        agg = driver.get_timestamped_key_value_store("aggregate")
        assert agg.get("1") == ValueAndTimestamp("0+1+1+1", 50)
        assert agg.get("2") == ValueAndTimestamp("0+2+2", 60)


def test_table_count_going_to_zero_stays_zero():
    builder = StreamsBuilder()
    (builder.table("t").group_by(lambda k, v: (v, v)).count(materialized="c")
     .to_stream().to("out"))
    with TopologyTestDriver(builder.build()) as driver:
        inp = driver.create_input_topic("t")
        inp.pipe_input("A", "x", 1)
        inp.pipe_input("A", None, 2)
        assert driver.create_output_topic("out").read_key_values_to_list() == [("x", 1), ("x", 0)]
        assert driver.get_key_value_store("c").get("x") == 0


def test_table_group_by_null_key_raises_kafka_message():
    builder = StreamsBuilder()
    builder.stream("in").to_table().group_by(lambda k, v: (v, v)).count()
    # to_table drops null keys before group_by sees them
    with TopologyTestDriver(builder.build()) as driver:
        driver.create_input_topic("in").pipe_input(None, "v")
        assert driver.metrics()["dropped-records-total"] == 1
