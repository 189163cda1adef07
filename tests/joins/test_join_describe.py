"""describe() of joins, compared with the literal outputs of Kafka's own tests."""

from __future__ import annotations

import pytest

from streamnb import Materialized, Repartitioned, StreamsBuilder, TopologyTestDriver
from streamnb.dsl.join_options import StreamJoined
from streamnb.dsl.join_windows import JoinWindows
from streamnb.errors import TopologyException

JOINER = lambda a, b: f"{a}+{b}"  # noqa: E731


def test_stream_table_join_describe_matches_kafka():
    # KStreamImplTest.shouldSupportStreamTableJoinWithKStreamToKTable
    builder = StreamsBuilder()
    stream = builder.stream("streamTopic")
    table = builder.stream("tableTopic").to_table()
    stream.join(table, JOINER).to("output")
    assert str(builder.build().describe()) == """\
Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [streamTopic])
      --> KSTREAM-JOIN-0000000004
    Processor: KSTREAM-JOIN-0000000004 (stores: [KSTREAM-TOTABLE-STATE-STORE-0000000003])
      --> KSTREAM-SINK-0000000005
      <-- KSTREAM-SOURCE-0000000000
    Source: KSTREAM-SOURCE-0000000001 (topics: [tableTopic])
      --> KSTREAM-TOTABLE-0000000002
    Sink: KSTREAM-SINK-0000000005 (topic: output)
      <-- KSTREAM-JOIN-0000000004
    Processor: KSTREAM-TOTABLE-0000000002 (stores: [KSTREAM-TOTABLE-STATE-STORE-0000000003])
      --> none
      <-- KSTREAM-SOURCE-0000000001

"""


def test_stream_table_join_after_map_reuses_repartition_topic():
    # KStreamKTableJoinTest.shouldReuseRepartitionTopicWithGeneratedName
    builder = StreamsBuilder()
    stream_a = builder.stream("topic")
    table_b = builder.table("topic2")
    table_c = builder.table("topic3")
    rekeyed = stream_a.map(lambda k, v: (v, k))
    rekeyed.join(table_b, JOINER).to("out-one")
    rekeyed.join(table_c, JOINER).to("out-two")
    assert str(builder.build().describe()) == """\
Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [topic])
      --> KSTREAM-MAP-0000000007
    Processor: KSTREAM-MAP-0000000007 (stores: [])
      --> KSTREAM-FILTER-0000000009
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-FILTER-0000000009 (stores: [])
      --> KSTREAM-SINK-0000000008
      <-- KSTREAM-MAP-0000000007
    Sink: KSTREAM-SINK-0000000008 (topic: KSTREAM-MAP-0000000007-repartition)
      <-- KSTREAM-FILTER-0000000009

  Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000010 (topics: [KSTREAM-MAP-0000000007-repartition])
      --> KSTREAM-JOIN-0000000011, KSTREAM-JOIN-0000000016
    Processor: KSTREAM-JOIN-0000000011 (stores: [topic2-STATE-STORE-0000000001])
      --> KSTREAM-SINK-0000000012
      <-- KSTREAM-SOURCE-0000000010
    Processor: KSTREAM-JOIN-0000000016 (stores: [topic3-STATE-STORE-0000000004])
      --> KSTREAM-SINK-0000000017
      <-- KSTREAM-SOURCE-0000000010
    Source: KSTREAM-SOURCE-0000000002 (topics: [topic2])
      --> KTABLE-SOURCE-0000000003
    Source: KSTREAM-SOURCE-0000000005 (topics: [topic3])
      --> KTABLE-SOURCE-0000000006
    Sink: KSTREAM-SINK-0000000012 (topic: out-one)
      <-- KSTREAM-JOIN-0000000011
    Sink: KSTREAM-SINK-0000000017 (topic: out-two)
      <-- KSTREAM-JOIN-0000000016
    Processor: KTABLE-SOURCE-0000000003 (stores: [topic2-STATE-STORE-0000000001])
      --> none
      <-- KSTREAM-SOURCE-0000000002
    Processor: KTABLE-SOURCE-0000000006 (stores: [topic3-STATE-STORE-0000000004])
      --> none
      <-- KSTREAM-SOURCE-0000000005

"""


STREAM_STREAM_INNER = """\
Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic1])
      --> KSTREAM-WINDOWED-0000000002
    Source: KSTREAM-SOURCE-0000000001 (topics: [input-topic2])
      --> KSTREAM-WINDOWED-0000000003
    Processor: KSTREAM-WINDOWED-0000000002 (stores: [KSTREAM-JOINTHIS-0000000004-store])
      --> KSTREAM-JOINTHIS-0000000004
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-WINDOWED-0000000003 (stores: [KSTREAM-JOINOTHER-0000000005-store])
      --> KSTREAM-JOINOTHER-0000000005
      <-- KSTREAM-SOURCE-0000000001
    Processor: KSTREAM-JOINOTHER-0000000005 (stores: [KSTREAM-JOINTHIS-0000000004-store])
      --> KSTREAM-MERGE-0000000006
      <-- KSTREAM-WINDOWED-0000000003
    Processor: KSTREAM-JOINTHIS-0000000004 (stores: [KSTREAM-JOINOTHER-0000000005-store])
      --> KSTREAM-MERGE-0000000006
      <-- KSTREAM-WINDOWED-0000000002
    Processor: KSTREAM-MERGE-0000000006 (stores: [])
      --> none
      <-- KSTREAM-JOINTHIS-0000000004, KSTREAM-JOINOTHER-0000000005

"""


def test_stream_stream_inner_join_describe_matches_kafka():
    # TopologyTest.streamStreamJoinTopologyWithDefaultStoresNames
    builder = StreamsBuilder()
    builder.stream("input-topic1").join(builder.stream("input-topic2"), JOINER,
                                        JoinWindows.of_time_difference_with_no_grace(100))
    assert str(builder.build().describe()) == STREAM_STREAM_INNER


def test_stream_stream_left_join_stores_match_kafka():
    builder = StreamsBuilder()
    builder.stream("input-topic1").left_join(builder.stream("input-topic2"), JOINER,
                                             JoinWindows.of_time_difference_with_no_grace(100))
    text = str(builder.build().describe())
    assert ("Processor: KSTREAM-WINDOWED-0000000003 (stores: "
            "[KSTREAM-OUTEROTHER-0000000005-store])") in text
    assert ("Processor: KSTREAM-JOINTHIS-0000000004 (stores: [KSTREAM-OUTEROTHER-0000000005-store"
            ", KSTREAM-OUTERSHARED-0000000004-store])") in text
    assert ("Processor: KSTREAM-OUTEROTHER-0000000005 (stores: [KSTREAM-JOINTHIS-0000000004-store"
            ", KSTREAM-OUTERSHARED-0000000004-store])") in text


def test_stream_joined_names_processors_and_stores():
    builder = StreamsBuilder()
    builder.stream("a").outer_join(
        builder.stream("b"), JOINER, JoinWindows.of_time_difference_with_no_grace(10),
        StreamJoined().with_name("j").with_store_name("s"))
    text = str(builder.build().describe())
    for expected in ("Processor: j-this-windowed (stores: [s-outer-this-join-store])",
                     "Processor: j-other-windowed (stores: [s-outer-other-join-store])",
                     "j-outer-this-join", "j-outer-other-join", "s-outer-shared-join-store",
                     "Processor: j-merge (stores: [])"):
        assert expected in text


def test_table_table_join_describe_matches_kafka():
    # KStreamImplTest.shouldSupportTableTableJoinWithKStreamToKTable
    builder = StreamsBuilder()
    left = builder.stream("left").to_table()
    right = builder.stream("right").to_table()
    left.join(right, JOINER).to_stream().to("output")
    assert str(builder.build().describe()) == """\
Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [left])
      --> KSTREAM-TOTABLE-0000000001
    Source: KSTREAM-SOURCE-0000000003 (topics: [right])
      --> KSTREAM-TOTABLE-0000000004
    Processor: KSTREAM-TOTABLE-0000000001 (stores: [KSTREAM-TOTABLE-STATE-STORE-0000000002])
      --> KTABLE-JOINTHIS-0000000007
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-TOTABLE-0000000004 (stores: [KSTREAM-TOTABLE-STATE-STORE-0000000005])
      --> KTABLE-JOINOTHER-0000000008
      <-- KSTREAM-SOURCE-0000000003
    Processor: KTABLE-JOINOTHER-0000000008 (stores: [KSTREAM-TOTABLE-STATE-STORE-0000000002])
      --> KTABLE-MERGE-0000000006
      <-- KSTREAM-TOTABLE-0000000004
    Processor: KTABLE-JOINTHIS-0000000007 (stores: [KSTREAM-TOTABLE-STATE-STORE-0000000005])
      --> KTABLE-MERGE-0000000006
      <-- KSTREAM-TOTABLE-0000000001
    Processor: KTABLE-MERGE-0000000006 (stores: [])
      --> KTABLE-TOSTREAM-0000000009
      <-- KTABLE-JOINTHIS-0000000007, KTABLE-JOINOTHER-0000000008
    Processor: KTABLE-TOSTREAM-0000000009 (stores: [])
      --> KSTREAM-SINK-0000000010
      <-- KTABLE-MERGE-0000000006
    Sink: KSTREAM-SINK-0000000010 (topic: output)
      <-- KTABLE-TOSTREAM-0000000009

"""


def test_join_of_repartitions_with_different_partition_counts_is_rejected():
    builder = StreamsBuilder()
    a = builder.stream("a").repartition(Repartitioned.with_number_of_partitions(2))
    b = builder.stream("b").repartition(Repartitioned.with_number_of_partitions(3))
    with pytest.raises(TopologyException, match="not co-partitioned"):
        a.join(b, JOINER, JoinWindows.of_time_difference_with_no_grace(10))


def test_join_records_copartition_group():
    builder = StreamsBuilder()
    builder.stream("a").join(builder.table("t"), JOINER)
    assert {"a", "t"} in builder.build().copartition_groups


def test_stream_stream_join_after_key_change_repartitions_both_sides():
    builder = StreamsBuilder()
    a = builder.stream("a").select_key(lambda k, v: v)
    b = builder.stream("b").select_key(lambda k, v: v)
    a.join(b, JOINER, JoinWindows.of_time_difference_with_no_grace(10)).to("out")
    topology = builder.build()
    assert topology.internal_topics == {"KSTREAM-KEY-SELECT-0000000001-repartition",
                                        "KSTREAM-KEY-SELECT-0000000003-repartition"}
    with TopologyTestDriver(topology) as driver:
        driver.create_input_topic("a").pipe_input(1, "x", 5)
        driver.create_input_topic("b").pipe_input(2, "x", 6)
        assert driver.create_output_topic("out").read_key_values_to_list() == [("x", "x+x")]


def test_joins_validate_arguments():
    builder = StreamsBuilder()
    s, t = builder.stream("a"), builder.table("t")
    with pytest.raises(TypeError, match="JoinWindows"):
        s.join(builder.stream("b"), JOINER)
    with pytest.raises(TypeError, match="joiner"):
        s.join(t, lambda a: a)
    with pytest.raises(TypeError, match="cannot join"):
        s.join(42, JOINER)


def test_table_join_materialized_result_is_queryable():
    builder = StreamsBuilder()
    left, right = builder.table("l"), builder.table("r")
    left.left_join(right, JOINER, materialized=Materialized.as_("joined"))
    with TopologyTestDriver(builder.build()) as driver:
        driver.create_input_topic("l").pipe_input("k", "A", 1)
        driver.create_input_topic("r").pipe_input("k", "a", 2)
        assert driver.get_key_value_store("joined").get("k") == "A+a"
