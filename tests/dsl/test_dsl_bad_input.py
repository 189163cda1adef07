"""Bad input fails early with Kafka's messages (Named validation, duplicate names, wrong
functions), and the counters Kafka burns for named operators."""

import pytest

from streamnb import Materialized, StreamsBuilder, Topology, TopologyTestDriver
from streamnb.dsl import Branched, Consumed, Grouped, Named, Produced, Repartitioned
from streamnb.errors import TopologyException


@pytest.mark.parametrize("name, message", [
    ("", "Invalid topology: Name is illegal, it can't be empty"),
    (".", 'Invalid topology: Name cannot be "." or ".."'),
    ("..", 'Invalid topology: Name cannot be "." or ".."'),
    ("a" * 250, "Invalid topology: Name is illegal, it can't be longer than 249 characters, "
                "name: " + "a" * 250),
    ("foo bar", 'Invalid topology: Name "foo bar" is illegal, it contains a character other '
                "than ASCII alphanumerics, '.', '_' and '-'"),
])
def test_named_validation_messages(name, message):
    with pytest.raises(TopologyException) as info:
        Named.as_(name)
    assert str(info.value) == message
    for make in (Materialized.as_, Grouped.as_, Repartitioned.as_, Produced.as_, Consumed.as_,
                 Branched.as_):
        with pytest.raises(TopologyException, match="^Invalid topology: "):
            make(name)


def test_longest_legal_name_and_legal_characters():
    assert Named.as_("a" * 249).name == "a" * 249
    assert Named.as_("Az09._-").name == "Az09._-"


def test_named_as_none():
    with pytest.raises(TypeError, match="name can't be null"):
        Named.as_(None)


def test_duplicate_processor_name():
    builder = StreamsBuilder()
    stream = builder.stream("in")
    stream.filter(lambda k, v: True, Named.as_("f"))
    with pytest.raises(TopologyException, match="^Invalid topology: Processor f is already "
                                                "added.$"):
        stream.map_values(lambda v: v, Named.as_("f"))


def test_same_topic_for_two_sources():
    builder = StreamsBuilder()
    builder.stream("in")
    with pytest.raises(TopologyException, match="^Invalid topology: Topic in has already been "
                                                "registered by another source"):
        builder.stream("in")


def test_low_level_topology_errors():
    topology = Topology()
    topology.add_source("s", "in")
    with pytest.raises(TopologyException, match="Invalid topology: .*not added yet"):
        topology.add_processor("p", lambda: None, "missing")
    topology.add_sink("k", "out", "s")
    with pytest.raises(TopologyException, match="Invalid topology: Sink k cannot be used a "
                                                "parent."):
        topology.add_processor("p", lambda: None, "k")


@pytest.mark.parametrize("call", [
    lambda s: s.filter(lambda v: True),
    lambda s: s.filter_not(lambda k, v, x: True),
    lambda s: s.map(lambda v: (v, v)),
    lambda s: s.map_values(lambda a, b, c: a),
    lambda s: s.flat_map(lambda v: []),
    lambda s: s.flat_map_values(lambda: []),
    lambda s: s.select_key(lambda v: v),
    lambda s: s.peek(lambda: None),
    lambda s: s.foreach(lambda v: None),
    lambda s: s.group_by(lambda v: v),
    lambda s: s.group_by_key().reduce(lambda a: a),
    lambda s: s.group_by_key().aggregate(lambda: 0, lambda k, v: 0),
    lambda s: s.group_by_key().aggregate(lambda x: 0, lambda k, v, a: 0),
    lambda s: s.split().branch(lambda v: True),
    lambda s: s.to_table().filter(lambda v: True),
    lambda s: s.to_table().group_by(lambda v: v),
])
def test_wrong_arity_functions_fail_where_they_are_passed(call):
    stream = StreamsBuilder().stream("in")
    with pytest.raises(TypeError, match="must take"):
        call(stream)


@pytest.mark.parametrize("call", [
    lambda s: s.filter("not callable"),
    lambda s: s.map_values(42),
    lambda s: s.foreach(None),
    lambda s: s.to(42),
    lambda s: s.merge("other"),
    lambda s: s.group_by_key(grouped="g"),
    lambda s: s.to_table(materialized=3),
])
def test_non_callables_and_wrong_types(call):
    stream = StreamsBuilder().stream("in")
    with pytest.raises(TypeError):
        call(stream)


def test_map_returning_none_uses_kafka_message():
    builder = StreamsBuilder()
    builder.stream("in").map(lambda k, v: None).to("out")
    with TopologyTestDriver(builder.build()) as driver, pytest.raises(
            TypeError, match="The provided KeyValueMapper returned null which is not allowed."):
        driver.create_input_topic("in").pipe_input("k", "v")


def test_flat_map_values_returning_a_string_is_rejected():
    builder = StreamsBuilder()
    builder.stream("in").flat_map_values(lambda v: v).to("out")
    with TopologyTestDriver(builder.build()) as driver, pytest.raises(
            TypeError, match="iterable of values"):
        driver.create_input_topic("in").pipe_input("k", "abc")


def test_named_operators_burn_counters():
    builder = StreamsBuilder()
    s = builder.stream("in", Consumed.as_("src"))            # burns 0
    s = s.filter(lambda k, v: True, Named.as_("f"))          # burns 1
    s = s.map_values(lambda v: v)                            # 2
    s.to("out", Produced.as_("sink"))                        # burns 3
    s.process(lambda: None, named=Named.as_("proc"))         # no counter
    s.peek(lambda k, v: None)                                # 4
    text = str(builder.build().describe())
    assert "Source: src (topics: [in])" in text
    assert "Processor: KSTREAM-MAPVALUES-0000000002" in text
    assert "Sink: sink (topic: out)" in text
    assert "Processor: proc (stores: [])" in text
    assert "Processor: KSTREAM-PEEK-0000000004" in text


def test_table_and_to_table_counters():
    builder = StreamsBuilder()
    builder.table("t", Consumed.as_("tab"))               # store 0, source 1, ktable-source 2
    builder.stream("s").to_table()                        # source 3, totable 4, store 5
    builder.stream("x")                                   # 6
    text = str(builder.build().describe())
    assert "Source: tab-source (topics: [t])" in text
    assert "Processor: tab (stores: [])" in text
    assert "Processor: KSTREAM-TOTABLE-0000000004 (stores: [])" in text
    assert "Source: KSTREAM-SOURCE-0000000006 (topics: [x])" in text


def test_grouped_name_is_reused_for_several_aggregations():
    builder = StreamsBuilder()
    grouped = builder.stream("in").select_key(lambda k, v: v).group_by_key(Grouped.as_("g"))
    grouped.count()
    grouped.reduce(lambda a, b: b)
    topology = builder.build()
    assert topology.internal_topics == {"g-repartition"}
