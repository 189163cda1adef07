# ruff: noqa: E501  (Kafka's describe() lines are longer than our line limit)
"""describe() text, byte for byte against the literals of Kafka's own tests
(TopologyTest, KStreamImplTest, RepartitionTopicNamingTest, KStreamKTableJoinTest)."""

from streamnb import Materialized, StreamsBuilder, Topology
from streamnb.dsl import Grouped, Named, Repartitioned
from streamnb.processor import Processor


class _Noop(Processor):
    def process(self, record):
        pass


def _text(topology):
    return str(topology.describe())


def test_empty_topology():
    assert _text(StreamsBuilder().build()) == "Topologies:\n "


def test_group_by_key_count():
    builder = StreamsBuilder()
    builder.stream("input-topic").group_by_key().count()
    assert _text(builder.build()) == (
        "Topologies:\n"
        "   Sub-topology: 0\n"
        "    Source: KSTREAM-SOURCE-0000000000 (topics: [input-topic])\n"
        "      --> KSTREAM-AGGREGATE-0000000002\n"
        "    Processor: KSTREAM-AGGREGATE-0000000002 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000001])\n"
        "      --> none\n"
        "      <-- KSTREAM-SOURCE-0000000000\n\n"
    )


def test_count_with_named_and_unnamed_materialized():
    builder = StreamsBuilder()
    builder.stream("input-topic").group_by_key().count(materialized=Materialized.as_("count-store"))
    assert "Processor: KSTREAM-AGGREGATE-0000000001 (stores: [count-store])" in _text(builder.build())
    builder = StreamsBuilder()
    builder.stream("input-topic").group_by_key().count(
        materialized=Materialized.with_("string", "long"))
    assert ("Processor: KSTREAM-AGGREGATE-0000000003 "
            "(stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000002])") in _text(builder.build())


def test_word_count_generated_names():
    builder = StreamsBuilder()
    (builder.stream("streams-plaintext-input")
     .flat_map_values(lambda v: v.lower().split())
     .group_by(lambda k, v: v).count().to_stream().to("streams-wordcount-output"))
    assert _text(builder.build()) == """Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [streams-plaintext-input])
      --> KSTREAM-FLATMAPVALUES-0000000001
    Processor: KSTREAM-FLATMAPVALUES-0000000001 (stores: [])
      --> KSTREAM-KEY-SELECT-0000000002
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-KEY-SELECT-0000000002 (stores: [])
      --> KSTREAM-FILTER-0000000006
      <-- KSTREAM-FLATMAPVALUES-0000000001
    Processor: KSTREAM-FILTER-0000000006 (stores: [])
      --> KSTREAM-SINK-0000000005
      <-- KSTREAM-KEY-SELECT-0000000002
    Sink: KSTREAM-SINK-0000000005 (topic: KSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition)
      <-- KSTREAM-FILTER-0000000006

  Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000007 (topics: [KSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition])
      --> KSTREAM-AGGREGATE-0000000004
    Processor: KSTREAM-AGGREGATE-0000000004 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000003])
      --> KTABLE-TOSTREAM-0000000008
      <-- KSTREAM-SOURCE-0000000007
    Processor: KTABLE-TOSTREAM-0000000008 (stores: [])
      --> KSTREAM-SINK-0000000009
      <-- KSTREAM-AGGREGATE-0000000004
    Sink: KSTREAM-SINK-0000000009 (topic: streams-wordcount-output)
      <-- KTABLE-TOSTREAM-0000000008

"""


def test_table_group_by_count_kstream_to_ktable():
    builder = StreamsBuilder()
    (builder.stream("input").to_table()
     .group_by(lambda k, v: (v, v), Grouped.with_("string", "string"))
     .count().to_stream().to("output"))
    assert _text(builder.build()) == """Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input])
      --> KSTREAM-TOTABLE-0000000001
    Processor: KSTREAM-TOTABLE-0000000001 (stores: [KSTREAM-TOTABLE-STATE-STORE-0000000002])
      --> KTABLE-SELECT-0000000003
      <-- KSTREAM-SOURCE-0000000000
    Processor: KTABLE-SELECT-0000000003 (stores: [])
      --> KSTREAM-SINK-0000000005
      <-- KSTREAM-TOTABLE-0000000001
    Sink: KSTREAM-SINK-0000000005 (topic: KTABLE-AGGREGATE-STATE-STORE-0000000004-repartition)
      <-- KTABLE-SELECT-0000000003

  Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000006 (topics: [KTABLE-AGGREGATE-STATE-STORE-0000000004-repartition])
      --> KTABLE-AGGREGATE-0000000007
    Processor: KTABLE-AGGREGATE-0000000007 (stores: [KTABLE-AGGREGATE-STATE-STORE-0000000004])
      --> KTABLE-TOSTREAM-0000000008
      <-- KSTREAM-SOURCE-0000000006
    Processor: KTABLE-TOSTREAM-0000000008 (stores: [])
      --> KSTREAM-SINK-0000000009
      <-- KTABLE-AGGREGATE-0000000007
    Sink: KSTREAM-SINK-0000000009 (topic: output)
      <-- KTABLE-TOSTREAM-0000000008

"""


def test_to_table_not_materialized_by_default():
    # KStreamImplTest.shouldNotMaterializedKTableFromKStream
    builder = StreamsBuilder()
    builder.stream("input").to_table().to_stream().to("output")
    assert _text(builder.build()) == """Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input])
      --> KSTREAM-TOTABLE-0000000001
    Processor: KSTREAM-TOTABLE-0000000001 (stores: [])
      --> KTABLE-TOSTREAM-0000000003
      <-- KSTREAM-SOURCE-0000000000
    Processor: KTABLE-TOSTREAM-0000000003 (stores: [])
      --> KSTREAM-SINK-0000000004
      <-- KSTREAM-TOTABLE-0000000001
    Sink: KSTREAM-SINK-0000000004 (topic: output)
      <-- KTABLE-TOSTREAM-0000000003

"""


def test_repartition_topic_naming_unoptimized_subtopology_0():
    """RepartitionTopicNamingTest EXPECTED_UNOPTIMIZED_TOPOLOGY, sub-topology 0: a five-child
    --> list whose order is neither by final size nor by name (Java TreeSet artifact)."""
    builder = StreamsBuilder()
    source = builder.stream("input")
    mapped = source.map(lambda k, v: (k.upper(), v))
    mapped.filter(lambda k, v: k == "B").map_values(lambda v: v.upper()).process(_Noop)
    count_stream = (mapped.group_by_key(Grouped.as_("count-stream"))
                    .count(materialized=Materialized.with_("string", "long")).to_stream())
    count_stream.to("outputTopic_0")
    (mapped.group_by_key(Grouped.as_("aggregate-stream"))
     .aggregate(lambda: 0, lambda k, v, a: a + len(v),
                materialized=Materialized.with_("string", "integer"))
     .to_stream().to("outputTopic_1"))
    (mapped.filter(lambda k, v: True).peek(lambda k, v: None)
     .group_by_key(Grouped.as_("reduced-stream"))
     .reduce(lambda a, b: a + ":" + b, materialized=Materialized.with_("string", "string"))
     .to_stream().to("outputTopic_2"))
    # The join's left repartition (Kafka: StreamJoined name "joined-stream" + "-left").
    mapped.filter(lambda k, v: k == "A").repartition(Repartitioned.as_("joined-stream-left"))
    text = _text(builder.build())
    expected_sub0 = """   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input])
      --> KSTREAM-MAP-0000000001
    Processor: KSTREAM-MAP-0000000001 (stores: [])
      --> KSTREAM-FILTER-0000000029, KSTREAM-FILTER-0000000002, KSTREAM-FILTER-0000000020, aggregate-stream-repartition-filter, count-stream-repartition-filter
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-FILTER-0000000020 (stores: [])
      --> KSTREAM-PEEK-0000000021
      <-- KSTREAM-MAP-0000000001
    Processor: KSTREAM-FILTER-0000000002 (stores: [])
      --> KSTREAM-MAPVALUES-0000000003
      <-- KSTREAM-MAP-0000000001
    Processor: KSTREAM-FILTER-0000000029 (stores: [])
      --> joined-stream-left-repartition-filter
      <-- KSTREAM-MAP-0000000001
    Processor: KSTREAM-PEEK-0000000021 (stores: [])
      --> reduced-stream-repartition-filter
      <-- KSTREAM-FILTER-0000000020
    Processor: KSTREAM-MAPVALUES-0000000003 (stores: [])
      --> KSTREAM-PROCESSOR-0000000004
      <-- KSTREAM-FILTER-0000000002
    Processor: aggregate-stream-repartition-filter (stores: [])
      --> aggregate-stream-repartition-sink
      <-- KSTREAM-MAP-0000000001
    Processor: count-stream-repartition-filter (stores: [])
      --> count-stream-repartition-sink
      <-- KSTREAM-MAP-0000000001
    Processor: joined-stream-left-repartition-filter (stores: [])
      --> joined-stream-left-repartition-sink
      <-- KSTREAM-FILTER-0000000029
    Processor: reduced-stream-repartition-filter (stores: [])
      --> reduced-stream-repartition-sink
      <-- KSTREAM-PEEK-0000000021
    Processor: KSTREAM-PROCESSOR-0000000004 (stores: [])
      --> none
      <-- KSTREAM-MAPVALUES-0000000003
    Sink: aggregate-stream-repartition-sink (topic: aggregate-stream-repartition)
      <-- aggregate-stream-repartition-filter
    Sink: count-stream-repartition-sink (topic: count-stream-repartition)
      <-- count-stream-repartition-filter
    Sink: joined-stream-left-repartition-sink (topic: joined-stream-left-repartition)
      <-- joined-stream-left-repartition-filter
    Sink: reduced-stream-repartition-sink (topic: reduced-stream-repartition)
      <-- reduced-stream-repartition-filter

"""
    assert text.startswith("Topologies:\n" + expected_sub0)
    # Sub-topologies 2 and 3 of the same Kafka literal.
    assert """  Sub-topology: 2
    Source: aggregate-stream-repartition-source (topics: [aggregate-stream-repartition])
      --> KSTREAM-AGGREGATE-0000000014
    Processor: KSTREAM-AGGREGATE-0000000014 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000013])
      --> KTABLE-TOSTREAM-0000000018
      <-- aggregate-stream-repartition-source
    Processor: KTABLE-TOSTREAM-0000000018 (stores: [])
      --> KSTREAM-SINK-0000000019
      <-- KSTREAM-AGGREGATE-0000000014
    Sink: KSTREAM-SINK-0000000019 (topic: outputTopic_1)
      <-- KTABLE-TOSTREAM-0000000018

""" in text
    assert "Processor: KSTREAM-REDUCE-0000000023 (stores: [KSTREAM-REDUCE-STATE-STORE-0000000022])" in text


def test_merge_lists_equal_sized_parents_in_declared_order():
    """TopologyTest stream-stream join: `<-- JOINTHIS, JOINOTHER` although names sort the
    other way (rebuilt with the low-level API in Kafka's node insertion order)."""
    t = Topology()
    t.add_source("KSTREAM-SOURCE-0000000000", "input-topic1")
    t.add_source("KSTREAM-SOURCE-0000000001", "input-topic2")
    t.add_processor("KSTREAM-WINDOWED-0000000002", _Noop, "KSTREAM-SOURCE-0000000000")
    t.add_processor("KSTREAM-WINDOWED-0000000003", _Noop, "KSTREAM-SOURCE-0000000001")
    t.add_processor("KSTREAM-JOINTHIS-0000000004", _Noop, "KSTREAM-WINDOWED-0000000002")
    t.add_processor("KSTREAM-JOINOTHER-0000000005", _Noop, "KSTREAM-WINDOWED-0000000003")
    t.add_processor("KSTREAM-MERGE-0000000006", _Noop, "KSTREAM-JOINTHIS-0000000004",
                    "KSTREAM-JOINOTHER-0000000005")
    from streamnb.state.builders import Stores
    for store, procs in (("KSTREAM-JOINTHIS-0000000004-store",
                          ("KSTREAM-WINDOWED-0000000002", "KSTREAM-JOINOTHER-0000000005")),
                         ("KSTREAM-JOINOTHER-0000000005-store",
                          ("KSTREAM-WINDOWED-0000000003", "KSTREAM-JOINTHIS-0000000004"))):
        t.add_state_store(Stores.key_value_store_builder(Stores.in_memory_key_value_store(store)),
                          *procs)
    assert _text(t) == """Topologies:
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


def test_multi_topic_source_uses_java_hash_set_order():
    builder = StreamsBuilder()
    builder.stream(["topic-1", "topic-2", "topic-3"])
    text = _text(builder.build())
    assert "(topics: [topic-1, topic-2, topic-3])" in text
    # Java's HashSet order for these, not insertion order:
    builder = StreamsBuilder()
    builder.stream(["b", "a"])
    assert "(topics: [a, b])" in _text(builder.build())


def test_named_operators_and_burned_counters():
    builder = StreamsBuilder()
    (builder.stream("in").filter(lambda k, v: True, Named.as_("my-filter"))
     .map_values(lambda v: v).to("out"))
    text = _text(builder.build())
    assert "Processor: my-filter (stores: [])" in text
    assert "Processor: KSTREAM-MAPVALUES-0000000002 (stores: [])" in text
    assert "Sink: KSTREAM-SINK-0000000003 (topic: out)" in text


def test_topic_extractor_sink_and_sub_topology_order():
    class Extractor:
        def __call__(self, key, value, ctx):
            return "x"

        def __repr__(self):
            return "MyExtractor"

    builder = StreamsBuilder()
    builder.stream("in").to(Extractor())
    text = _text(builder.build())
    assert "Sink: KSTREAM-SINK-0000000001 (extractor class: " in text


def test_repartition_named_and_generated():
    builder = StreamsBuilder()
    builder.stream("in").repartition().to("out")
    text = _text(builder.build())
    assert "Processor: KSTREAM-FILTER-0000000003 (stores: [])" in text
    assert "Sink: KSTREAM-SINK-0000000002 (topic: KSTREAM-REPARTITION-0000000001-repartition)" in text
    assert "Source: KSTREAM-SOURCE-0000000004 (topics: [KSTREAM-REPARTITION-0000000001-repartition])" in text
    assert "Sink: KSTREAM-SINK-0000000005 (topic: out)" in text
    builder = StreamsBuilder()
    builder.stream("in").repartition(Repartitioned.as_("r").with_num_partitions(3)).to("out")
    text = _text(builder.build())
    for name in ("r-repartition-filter", "r-repartition-sink", "r-repartition-source"):
        assert name in text
    assert "Sink: KSTREAM-SINK-0000000004 (topic: out)" in text
