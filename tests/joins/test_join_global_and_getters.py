"""Global tables, value getters of derived tables, and stream joins with versioned tables."""

from __future__ import annotations

import pytest

from streamnb import Materialized, StreamsBuilder, TopologyTestDriver
from streamnb.dsl.options import Consumed
from streamnb.errors import TopologyException

JOINER = lambda a, b: f"{a}+{b}"  # noqa: E731


def test_global_table_describe_shows_global_store_block():
    builder = StreamsBuilder()
    builder.global_table("globalTopic")
    assert str(builder.build().describe()) == """\
Topologies:
   Sub-topology: 0 for global store (will not generate tasks)
    Source: KSTREAM-SOURCE-0000000001 (topics: [globalTopic])
      --> KTABLE-SOURCE-0000000002
    Processor: KTABLE-SOURCE-0000000002 (stores: [globalTopic-STATE-STORE-0000000000])
      --> none
      <-- KSTREAM-SOURCE-0000000001
"""  # Kafka's GlobalStore.toString ends with one newline, not a blank line


def test_global_table_join_with_key_selector_and_left_join():
    builder = StreamsBuilder()
    orders = builder.stream("orders")
    customers = builder.global_table("customers", materialized="customers-store")
    orders.join(customers, lambda k, v: v["cust"], lambda o, c: f"{o['item']}@{c}").to("out")
    orders.left_join(customers, lambda k, v: v["cust"],
                     lambda k, o, c: f"{k}:{o['item']}@{c}").to("left")
    with TopologyTestDriver(builder.build()) as driver:
        driver.create_input_topic("customers").pipe_input("c1", "Alice", 1)
        inp = driver.create_input_topic("orders")
        inp.pipe_input("o1", {"cust": "c1", "item": "book"}, 5)
        inp.pipe_input("o2", {"cust": "c9", "item": "pen"}, 6)
        out = driver.create_output_topic("out").read_records_to_list()
        assert [(r.key, r.value, r.timestamp) for r in out] == [("o1", "book@Alice", 5)]
        assert driver.create_output_topic("left").read_values_to_list() == [
            "o1:book@Alice", "o2:pen@None"]
        assert driver.get_key_value_store("customers-store").get("c1") == "Alice"


def test_global_table_naming_with_consumed_name_and_versioned_is_rejected():
    builder = StreamsBuilder()
    g = builder.global_table("ref", Consumed.as_("refs"))
    assert g.name == "refs"
    assert "Source: refs-source (topics: [ref])" in str(builder.build().describe())
    with pytest.raises(TopologyException, match="GlobalTables cannot be versioned."):
        builder.global_table("other", materialized=Materialized.as_("v").with_versioned(10))


def test_stream_join_reads_filtered_and_mapped_tables_through_getters():
    builder = StreamsBuilder()
    table = builder.table("t").filter(lambda k, v: v > 1).map_values(lambda v: v * 10)
    builder.stream("s").left_join(table, JOINER).to("out")
    with TopologyTestDriver(builder.build()) as driver:
        t, s = driver.create_input_topic("t"), driver.create_input_topic("s")
        t.pipe_input("a", 1, 1)
        t.pipe_input("b", 2, 1)
        s.pipe_input("a", "x", 2)
        s.pipe_input("b", "y", 3)
        assert driver.create_output_topic("out").read_values_to_list() == ["x+None", "y+20"]


def test_stream_table_join_null_handling():
    builder = StreamsBuilder()
    stream, table = builder.stream("s"), builder.table("t")
    stream.join(table, JOINER).to("inner")
    stream.left_join(table, JOINER).to("left")
    with TopologyTestDriver(builder.build()) as driver:
        s = driver.create_input_topic("s")
        s.pipe_input(None, "v", 1)    # null key: inner drops, left joins with None
        s.pipe_input("k", None, 2)    # null value: both drop
        assert driver.create_output_topic("inner").read_values_to_list() == []
        assert driver.create_output_topic("left").read_key_values_to_list() == [(None, "v+None")]


def test_stream_join_with_versioned_table_looks_up_as_of_record_time():
    builder = StreamsBuilder()
    table = builder.table("t", materialized=Materialized.as_("vt").with_versioned(10_000))
    builder.stream("s").join(table, JOINER).to("out")
    with TopologyTestDriver(builder.build()) as driver:
        t, s = driver.create_input_topic("t"), driver.create_input_topic("s")
        t.pipe_input("k", "v10", 10)
        t.pipe_input("k", "v20", 20)
        s.pipe_input("k", "a", 15)   # out-of-order stream record sees the version at 15
        s.pipe_input("k", "b", 25)
        s.pipe_input("k", "c", 5)    # before the first version: no join
        assert driver.create_output_topic("out").read_values_to_list() == ["a+v10", "b+v20"]


def test_table_join_grace_period_is_a_clear_error():
    from streamnb.dsl.join_options import Joined

    builder = StreamsBuilder()
    with pytest.raises(TopologyException, match="grace"):
        builder.stream("s").join(builder.table("t"), JOINER,
                                 joined=Joined.as_("j").with_grace_period(10))
