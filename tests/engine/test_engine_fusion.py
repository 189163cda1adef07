"""Operator fusion must not change results: every fusable operator, fused and not."""

import pytest

from streamnb import StreamsBuilder, TopologyTestDriver
from streamnb.engine.fusion import is_fusable
from tests._collectors import ListCollector

LINES = ["a b c", "", "b c d e", "a a", "x"]


def _topologies():
    def chain(b):
        (b.stream("in").filter(lambda k, v: v != "x").flat_map_values(str.split)
         .map_values(str.upper).select_key(lambda k, v: v).peek(lambda k, v: None)
         .to("out"))

    def flat_map(b):
        (b.stream("in").flat_map(lambda k, v: [(w, len(w)) for w in v.split()])
         .map(lambda k, v: (k + "!", v * 2)).filter_not(lambda k, v: v > 2).to("out"))

    def count(b):
        (b.stream("in").flat_map_values(lambda v: v.split()).group_by(lambda k, v: v)
         .count().to_stream().to("out"))

    def merge(b):
        s = b.stream("in").map_values(lambda v: v + "-1")
        t = b.stream("in2").map_values(lambda v: v + "-2")
        s.merge(t).map_values(lambda k, v: f"{k}:{v}").to("out")

    return {"chain": chain, "flat_map": flat_map, "count": count, "merge": merge}


def _run(build, fused):
    builder = StreamsBuilder()
    build(builder)
    topology = builder.build()
    config = {"operator.fusion": fused}
    with TopologyTestDriver(topology, config) as driver:
        for index, line in enumerate(LINES):
            driver.create_input_topic("in").pipe_input(str(index), line, index)
            if "in2" in topology.source_topics:
                driver.create_input_topic("in2").pipe_input("k", line, index)
        fused_nodes = [n for n in driver._task.nodes.values() if is_fusable(n)]
        assert fused_nodes
        has_source = all(hasattr(n.process, "source") == fused for n in fused_nodes)
        return driver.create_output_topic("out").read_records_to_list(), has_source


@pytest.mark.parametrize("name", sorted(_topologies()))
def test_fused_and_unfused_topologies_give_identical_records(name):
    build = _topologies()[name]
    fused, fused_flag = _run(build, True)
    plain, plain_flag = _run(build, False)
    assert fused == plain
    assert fused, "the topology must produce output for the comparison to mean anything"
    assert fused_flag and plain_flag


def test_errors_in_fused_code_still_name_the_operator():
    builder = StreamsBuilder()
    builder.stream("in").map(lambda k, v: v).to("out")
    with TopologyTestDriver(builder.build()) as driver, pytest.raises(
        TypeError, match="KSTREAM-MAP-0000000001.*pair"
    ):
        driver.create_input_topic("in").pipe_input("k", "abc")


def test_batch_entry_runs_records_like_per_record_processing():
    from streamnb.engine.task import Task
    from streamnb.topology.topology import Subtopology

    def build():
        builder = StreamsBuilder()
        (builder.stream("in").flat_map_values(str.split).filter(lambda k, v: v != "b")
         .map_values(str.upper).to("out"))
        topology = builder.build()
        group = topology.subtopologies()[0]
        return topology, Subtopology(0, group.nodes, [], [], [])

    records = [(str(i), line, 10 + i) for i, line in enumerate(LINES)]
    topology, group = build()
    plain = ListCollector(inline=False)
    task = Task("0_0", topology, group, plain, "app", {"operator.fusion": False})
    for key, value, ts in records:
        task.process("in", key, value, ts)
    topology, group = build()
    batched = ListCollector(inline=True)
    task = Task("0_0", topology, group, batched, "app")
    task.batch_entry("in")(records)
    assert batched.out == plain.out
    assert task.ctx.stream_time == 14
    assert [v for _, _, v, _ in plain.out] == ["A", "C", "C", "D", "E", "A", "A", "X"]


def test_batch_count_with_out_of_order_timestamps_matches_unfused():
    """The count's max-timestamp rule inlined in a batch loop (children at the max ts)."""
    from streamnb.engine.task import Task
    from streamnb.topology.topology import Subtopology

    def run(fused):
        builder = StreamsBuilder()
        builder.stream("in").group_by_key().count().to_stream().to("out")
        topology = builder.build()
        group = topology.subtopologies()[0]
        collector = ListCollector(inline=fused)
        task = Task("0_0", topology, Subtopology(0, group.nodes, [], [], group.stores),
                    collector, "app", {"operator.fusion": fused})
        records = [("a", 1, 50), ("a", 1, 10), ("b", 1, 5), ("a", 1, 60), ("b", 1, 1)]
        if fused:
            task.batch_entry("in")(records)
        else:
            for key, value, ts in records:
                task.process("in", key, value, ts)
        assert task.ctx.stream_time == 60
        return collector.out

    expected = [("out", "a", 1, 50), ("out", "a", 2, 50), ("out", "b", 1, 5),
                ("out", "a", 3, 60), ("out", "b", 2, 5)]
    assert run(False) == expected
    assert run(True) == expected
