"""Stateless KStream operators, with the expected outputs of Kafka's tests
(KStreamFilterTest, KStreamMapTest, KStreamMapValuesTest, KStreamFlatMapTest,
KStreamFlatMapValuesTest, KStreamSelectKeyTest, KStreamPeekTest, KStreamForeachTest,
KStreamSplitTest, KStreamImplTest merge, KStreamRepartitionTest)."""

import pytest

from streamnb import Serdes, StreamsBuilder, TopologyTestDriver
from streamnb.dsl import Branched, Named, Produced, Repartitioned

INT, STR = Serdes.Integer(), Serdes.String()


def _run(builder, records, topic="in", key_serde=INT, value_serde=STR):
    driver = TopologyTestDriver(builder.build())
    inp = driver.create_input_topic(topic, key_serde, value_serde)
    for record in records:
        inp.pipe_input(*record)
    return driver


def _ints(n=7):
    return [(k, "V" + str(k)) for k in range(1, n + 1)]


def test_filter_and_filter_not():
    builder = StreamsBuilder()
    source = builder.stream("in")
    source.filter(lambda k, v: k % 3 == 0).to("kept")
    source.filter_not(lambda k, v: k % 3 == 0).to("dropped")
    with _run(builder, _ints()) as driver:
        assert driver.create_output_topic("kept").read_key_values_to_list() == [
            (3, "V3"), (6, "V6")]
        assert [kv.key for kv in driver.create_output_topic("dropped").read_key_values_to_list()
                ] == [1, 2, 4, 5, 7]


def test_filter_predicate_sees_null_values():
    seen = []
    builder = StreamsBuilder()
    builder.stream("in").filter(lambda k, v: seen.append(v) or v is None).to("out")
    with _run(builder, [(1, None), (2, "x")]) as driver:
        assert seen == [None, "x"]
        assert driver.create_output_topic("out").read_key_values_to_list() == [(1, None)]


def test_map_keeps_timestamp_and_rekeys():
    builder = StreamsBuilder()
    builder.stream("in").map(lambda k, v: (v, k)).to("out")
    with _run(builder, [(k, "V" + str(k), 10 + k) for k in range(4)]) as driver:
        records = driver.create_output_topic("out").read_records_to_list()
        assert [(r.key, r.value, r.timestamp) for r in records] == [
            ("V0", 0, 10), ("V1", 1, 11), ("V2", 2, 12), ("V3", 3, 13)]


def test_map_values_one_and_two_arguments():
    builder = StreamsBuilder()
    source = builder.stream("in")
    source.map_values(lambda v: len(v)).to("one")
    source.map_values(lambda k, v: f"{k}:{v}").to("two")
    with _run(builder, [(1, "1"), (10, "10"), (100, "100")]) as driver:
        assert driver.create_output_topic("one").read_key_values_to_list() == [
            (1, 1), (10, 2), (100, 3)]
        assert driver.create_output_topic("two").read_values_to_list() == [
            "1:1", "10:10", "100:100"]


def test_flat_map_and_flat_map_values():
    builder = StreamsBuilder()
    source = builder.stream("in")
    source.flat_map(lambda k, v: [(f"{k}-{i}", v) for i in range(k)]).to("fm")
    source.flat_map_values(lambda v: [v + "a", v + "b"]).to("fmv")
    source.flat_map_values(lambda k, v: [k] * 2).to("fmvk")
    with _run(builder, [(0, "V0", 5), (1, "V1", 6), (2, "V2", 7)]) as driver:
        fm = driver.create_output_topic("fm").read_records_to_list()
        assert [(r.key, r.value, r.timestamp) for r in fm] == [
            ("1-0", "V1", 6), ("2-0", "V2", 7), ("2-1", "V2", 7)]
        assert driver.create_output_topic("fmv").read_key_values_to_list() == [
            (0, "V0a"), (0, "V0b"), (1, "V1a"), (1, "V1b"), (2, "V2a"), (2, "V2b")]
        assert driver.create_output_topic("fmvk").read_values_to_list() == [0, 0, 1, 1, 2, 2]


def test_select_key_peek_and_foreach():
    peeked, each = [], []
    builder = StreamsBuilder()
    source = builder.stream("in")
    source.select_key(lambda k, v: v + "-key").peek(lambda k, v: peeked.append((k, v))).to("out")
    source.foreach(lambda k, v: each.append((k, v)))
    with _run(builder, [(1, "a"), (2, "b")]) as driver:
        assert driver.create_output_topic("out").read_key_values_to_list() == [
            ("a-key", "a"), ("b-key", "b")]
    assert peeked == [("a-key", "a"), ("b-key", "b")]
    assert each == [(1, "a"), (2, "b")]


def test_children_run_depth_first_in_insertion_order():
    order = []
    builder = StreamsBuilder()
    source = builder.stream("in")
    source.peek(lambda k, v: order.append("p1")).to("a")
    source.peek(lambda k, v: order.append("p2")).to("b")
    with _run(builder, [(1, "x"), (2, "y")]):
        pass
    assert order == ["p1", "p2", "p1", "p2"]


def test_merge_passes_both_streams_in_pipe_order():
    builder = StreamsBuilder()
    a = builder.stream("a")
    b = builder.stream("b")
    a.merge(b, Named.as_("merged")).to("out")
    topology = builder.build()
    assert "Processor: merged (stores: [])" in str(topology.describe())
    with TopologyTestDriver(topology) as driver:
        ia = driver.create_input_topic("a", INT, STR)
        ib = driver.create_input_topic("b", INT, STR)
        ia.pipe_input(0, "A0", 5)
        ib.pipe_input(1, "B1", 3)
        ia.pipe_input(2, "A2", 7)
        out = driver.create_output_topic("out").read_records_to_list()
        assert [(r.key, r.value, r.timestamp) for r in out] == [
            (0, "A0", 5), (1, "B1", 3), (2, "A2", 7)]


def _split_input():
    return [(k, "V" + str(k)) for k in (-1, 0, 1, 2, 3, 4, 5, 6, 7)]


def test_split_with_consumers():
    builder = StreamsBuilder()
    branches = (builder.stream("in").split()
                .branch(lambda k, v: k % 2 == 0, Branched.with_consumer(lambda ks: ks.to("x2")))
                .branch(lambda k, v: k % 3 == 0, Branched.with_consumer(lambda ks: ks.to("x3")))
                .branch(lambda k, v: k % 5 == 0, Branched.with_consumer(lambda ks: ks.to("x5")))
                .no_default_branch())
    assert branches == {}
    with _run(builder, _split_input()) as driver:
        assert driver.create_output_topic("x2").read_values_to_list() == ["V0", "V2", "V4", "V6"]
        assert driver.create_output_topic("x3").read_values_to_list() == ["V3"]
        assert driver.create_output_topic("x5").read_values_to_list() == ["V5"]


def test_split_resulting_map():
    builder = StreamsBuilder()
    branches = (builder.stream("in").split(Named.as_("foo-"))
                .branch(lambda k, v: k % 2 == 0, Branched.as_("bar"))
                .branch(lambda k, v: k % 3 == 0, Branched.with_consumer(lambda ks: None))
                .branch(lambda k, v: k % 5 == 0, Branched.with_function(lambda ks: None))
                .branch(lambda k, v: k < 0, Branched.with_function(lambda ks: ks))
                .branch(lambda k, v: k % 7 == 0)
                .default_branch())
    assert sorted(branches) == ["foo-0", "foo-4", "foo-5", "foo-bar"]
    for name, stream in branches.items():
        stream.to(name)
    with _run(builder, _split_input()) as driver:
        assert driver.create_output_topic("foo-bar").read_values_to_list() == [
            "V0", "V2", "V4", "V6"]
        assert driver.create_output_topic("foo-4").read_values_to_list() == ["V-1"]
        assert driver.create_output_topic("foo-5").read_values_to_list() == ["V7"]
        assert driver.create_output_topic("foo-0").read_values_to_list() == ["V1"]


def test_split_without_terminal_operation_still_routes():
    builder = StreamsBuilder()
    (builder.stream("in").split()
     .branch(lambda k, v: k % 2 == 0, Branched.with_consumer(lambda ks: ks.to("output")))
     .branch(lambda k, v: k % 5 == 0, Branched.with_consumer(lambda ks: ks.to("output"))))
    with _run(builder, _split_input()) as driver:
        assert driver.create_output_topic("output").read_values_to_list() == [
            "V0", "V2", "V4", "V5", "V6"]


def test_split_generated_names_and_counter():
    builder = StreamsBuilder()
    branches = (builder.stream("in").split()
                .branch(lambda k, v: True, Branched.with_consumer(lambda ks: ks.to("x")))
                .branch(lambda k, v: True)
                .default_branch())
    assert sorted(branches) == ["KSTREAM-BRANCH-00000000010", "KSTREAM-BRANCH-00000000012"]
    text = str(builder.build().describe())
    # split=1, branch 1 burns 2, its sink=3, branch 2 burns 4, default burns 5
    assert "Sink: KSTREAM-SINK-0000000003 (topic: x)" in text
    assert "Processor: KSTREAM-BRANCH-00000000011 (stores: [])" in text
    builder.stream("other").to("y")
    assert "Source: KSTREAM-SOURCE-0000000006 (topics: [other])" in str(builder.build().describe())


def test_repartition_passes_records_with_their_timestamps_and_null_keys():
    builder = StreamsBuilder()
    builder.stream("in").repartition(Repartitioned.as_("r").with_num_partitions(2)).to("out")
    with TopologyTestDriver(builder.build(), {"application.id": "app"}) as driver:
        inp = driver.create_input_topic("in")
        inp.pipe_input("a", 1, 10)
        inp.pipe_input(None, 2, 20)
        out = driver.create_output_topic("out").read_records_to_list()
        assert [(r.key, r.value, r.timestamp) for r in out] == [("a", 1, 10), (None, 2, 20)]
        assert "app-r-repartition" in driver.produced_topic_names()


def test_to_with_produced_serdes_and_topic_extractor():
    builder = StreamsBuilder()
    source = builder.stream("in")
    source.to("typed", Produced.with_(Serdes.String(), Serdes.Long()))
    source.to(lambda k, v, ctx: "even" if v % 2 == 0 else "odd")
    with TopologyTestDriver(builder.build()) as driver:
        inp = driver.create_input_topic("in", Serdes.String(), Serdes.Long())
        inp.pipe_input("a", 1)
        inp.pipe_input("b", 2)
        typed = driver.create_output_topic("typed", Serdes.String(), Serdes.Long())
        assert typed.read_key_values_to_list() == [("a", 1), ("b", 2)]
        assert driver.create_output_topic("odd").read_key_values_to_list() == [("a", 1)]
        assert driver.create_output_topic("even").read_key_values_to_list() == [("b", 2)]
        with pytest.raises(Exception, match="topic 'typed'"):
            inp2 = driver.create_input_topic("in")
            inp2.pipe_input("c", "not a long")
