"""KTable semantics from Kafka's KTableSourceTest, KTableFilterTest, KTableMapValuesTest and
KStreamImplTest (toTable)."""

import pytest

from streamnb import Materialized, Serdes, StreamsBuilder, TopologyTestDriver, ValueAndTimestamp
from streamnb.dsl import Consumed, Named
from streamnb.errors import InvalidStateStoreException

STR, INT = Serdes.String(), Serdes.Integer()
INPUT = (("A", 1, 10), ("B", 2, 5), ("C", 3, 8), ("D", 4, 14), ("A", None, 18), ("B", None, 15))


def _records(topic):
    return [(r.key, r.value, r.timestamp) for r in topic.read_records_to_list()]


def _pipe(driver, topic, records, ks=STR, vs=INT):
    inp = driver.create_input_topic(topic, ks, vs)
    for record in records:
        inp.pipe_input(*record)


@pytest.mark.parametrize("materialize_filter", [False, True])
def test_filter_and_filter_not_pass_through(materialize_filter):
    builder = StreamsBuilder()
    table1 = builder.table("topic1", Consumed.with_(STR, INT))
    table2 = table1.filter(lambda k, v: v % 2 == 0,
                           materialized="store2" if materialize_filter else None)
    table3 = table1.filter_not(lambda k, v: v % 2 == 0)
    assert table1.queryable_store_name is None
    assert table2.queryable_store_name == ("store2" if materialize_filter else None)
    table2.to_stream().to("out2")
    table3.to_stream().to("out3")
    with TopologyTestDriver(builder.build()) as driver:
        _pipe(driver, "topic1", INPUT)
        assert _records(driver.create_output_topic("out2")) == [
            ("A", None, 10), ("B", 2, 5), ("C", None, 8), ("D", 4, 14), ("A", None, 18),
            ("B", None, 15)]
        assert _records(driver.create_output_topic("out3")) == [
            ("A", 1, 10), ("B", None, 5), ("C", 3, 8), ("D", None, 14), ("A", None, 18),
            ("B", None, 15)]
        if materialize_filter:
            store = driver.get_timestamped_key_value_store("store2")
            assert store.get("D") == ValueAndTimestamp(4, 14)
            assert store.get("B") is None


SEQUENCE = (("A", 1, 5), ("B", 1, 10), ("C", 1, 15), ("A", 2, 15), ("B", 2, 8), ("A", 3, 20),
            ("A", None, 10), ("B", None, 20))


def test_filter_without_materialized_parent_forwards_every_tombstone():
    builder = StreamsBuilder()
    builder.table("topic1", Consumed.with_(STR, INT)).filter(
        lambda k, v: v % 2 == 0).to_stream().to("out")
    with TopologyTestDriver(builder.build()) as driver:
        _pipe(driver, "topic1", SEQUENCE)
        assert _records(driver.create_output_topic("out")) == [
            ("A", None, 5), ("B", None, 10), ("C", None, 15), ("A", 2, 15), ("B", 2, 8),
            ("A", None, 20), ("A", None, 10), ("B", None, 20)]


def test_filter_of_materialized_parent_sends_old_values_and_skips_useless_tombstones():
    """KTableFilterTest.shouldSendOldValuesWhenEnabledOnUpStreamMaterialization."""
    builder = StreamsBuilder()
    (builder.table("topic1", Consumed.with_(STR, INT), Materialized.as_("store2"))
     .filter(lambda k, v: v % 2 == 0).to_stream().to("out"))
    with TopologyTestDriver(builder.build()) as driver:
        _pipe(driver, "topic1", SEQUENCE)
        assert _records(driver.create_output_topic("out")) == [
            ("A", 2, 15), ("B", 2, 8), ("A", None, 20), ("B", None, 20)]


def test_filter_of_an_aggregation_sends_old_values():
    builder = StreamsBuilder()
    (builder.stream("in").group_by_key().count()
     .filter(lambda k, v: v >= 2).to_stream().to("out"))
    with TopologyTestDriver(builder.build()) as driver:
        inp = driver.create_input_topic("in")
        for _ in range(3):
            inp.pipe_input("k", "v", 1)
        # count 1 fails the filter before and after: nothing; then 2, 3.
        assert driver.create_output_topic("out").read_key_values_to_list() == [("k", 2), ("k", 3)]


def test_filter_does_not_materialize_an_unmaterialized_source():
    builder = StreamsBuilder()
    builder.table("t").filter(lambda k, v: True).to_stream().to("out")
    text = str(builder.build().describe())
    assert "Processor: KTABLE-SOURCE-0000000002 (stores: [])" in text
    assert "Processor: KTABLE-FILTER-0000000003 (stores: [])" in text


def test_filter_with_unnamed_materialized_burns_a_store_name():
    builder = StreamsBuilder()
    builder.table("t").filter(lambda k, v: True, materialized=Materialized.with_(STR, STR))
    builder.table("u")
    text = str(builder.build().describe())
    assert "KTABLE-FILTER-0000000004" in text
    assert "Source: KSTREAM-SOURCE-0000000006 (topics: [u])" in text


def test_map_values_one_and_two_args_and_materialized():
    builder = StreamsBuilder()
    table = builder.table("topic1", Consumed.with_(STR, STR))
    table.map_values(lambda v: int(v)).to_stream().to("out1")
    table.map_values(lambda k, v: k + v, Named.as_("mv"), Materialized.as_("mapped")
                     ).to_stream().to("out2")
    with TopologyTestDriver(builder.build()) as driver:
        inp = driver.create_input_topic("topic1", STR, STR)
        inp.pipe_input("A", "1", 5)
        inp.pipe_input("B", "2", 25)
        inp.pipe_input("C", "3", 20)
        inp.pipe_input("D", "4", 10)
        inp.pipe_input("A", None, 30)
        assert _records(driver.create_output_topic("out1")) == [
            ("A", 1, 5), ("B", 2, 25), ("C", 3, 20), ("D", 4, 10), ("A", None, 30)]
        assert driver.create_output_topic("out2").read_values_to_list() == [
            "A1", "B2", "C3", "D4", None]
        assert driver.get_key_value_store("mapped").get("B") == "B2"
        assert driver.get_key_value_store("mapped").get("A") is None


def test_table_source_tombstones_null_keys_and_queryable_store():
    builder = StreamsBuilder()
    table = builder.table("t", materialized="tbl")
    assert table.queryable_store_name == "tbl"
    table.to_stream().to("out")
    with TopologyTestDriver(builder.build()) as driver:
        inp = driver.create_input_topic("t")
        inp.pipe_input("a", 1, 10)
        inp.pipe_input(None, 2, 11)
        inp.pipe_input("b", 3, 12)
        inp.pipe_input("a", None, 13)
        inp.pipe_input("zz", None, 14)  # tombstone for a missing key is still forwarded
        assert _records(driver.create_output_topic("out")) == [
            ("a", 1, 10), ("b", 3, 12), ("a", None, 13), ("zz", None, 14)]
        store = driver.get_key_value_store("tbl")
        assert list(store.all()) == [("b", 3)]
        assert driver.metrics()["dropped-records-total"] == 1


def test_unmaterialized_table_store_is_not_queryable():
    builder = StreamsBuilder()
    builder.table("t").to_stream().to("out")
    with TopologyTestDriver(builder.build()) as driver, pytest.raises(
            InvalidStateStoreException, match="t-STATE-STORE-0000000000"):
        driver.get_key_value_store("t-STATE-STORE-0000000000")


def test_table_materialized_on_demand_by_group_by():
    builder = StreamsBuilder()
    builder.table("t").group_by(lambda k, v: (v, v)).count()
    text = str(builder.build().describe())
    assert "Processor: KTABLE-SOURCE-0000000002 (stores: [t-STATE-STORE-0000000000])" in text


def test_to_table_forwards_every_record_including_out_of_order():
    """KStreamImplTest.shouldNotMaterializedKTableFromKStream."""
    builder = StreamsBuilder()
    builder.stream("input", Consumed.with_(STR, STR)).to_table().to_stream().to("output")
    with TopologyTestDriver(builder.build()) as driver:
        inp = driver.create_input_topic("input", STR, STR)
        for k, v, ts in (("A", "01", 5), ("B", "02", 100), ("C", "03", 0), ("D", "04", 0),
                         ("A", "05", 10), ("A", "06", 8)):
            inp.pipe_input(k, v, ts)
        assert _records(driver.create_output_topic("output")) == [
            ("A", "01", 5), ("B", "02", 100), ("C", "03", 0), ("D", "04", 0), ("A", "05", 10),
            ("A", "06", 8)]


def test_to_table_materialized_and_repartitioned_after_key_change():
    builder = StreamsBuilder()
    (builder.stream("in").select_key(lambda k, v: v)
     .to_table(Named.as_("tt"), Materialized.as_("latest")))
    topology = builder.build()
    text = str(topology.describe())
    assert "Sink: tt-repartition-sink (topic: tt-repartition)" in text
    assert "Processor: tt (stores: [latest])" in text
    with TopologyTestDriver(topology) as driver:
        inp = driver.create_input_topic("in")
        inp.pipe_input("x", "k1", 1)
        inp.pipe_input("y", "k1", 2)
        assert driver.get_timestamped_key_value_store("latest").get("k1") == ValueAndTimestamp(
            "k1", 2)
