"""Records per processor node (``Task.node_process_totals``), counted by generated code per
block and by wrappers around unfused nodes: every path (batch loop, per-record entry,
fusion off, an exception mid-batch) must give the same totals."""

import pytest

from streamnb import StreamsBuilder
from streamnb.engine.task import Task
from streamnb.topology.topology import Subtopology
from tests._collectors import ListCollector

DEBUG = {"metrics.recording.level": "DEBUG"}


class _Upper:
    """A Processor API processor (never fused) forwarding upper-cased values."""

    def init(self, context):
        self.context = context

    def process(self, record):
        self.context.forward(record.with_value(record.value.upper()))

    def close(self):
        pass


def _build(b):
    words = b.stream("in").flat_map_values(str.split)
    long = words.filter(lambda k, v: len(v) > 1, named="long")
    long.map_values(str.upper, named="up").to("out-long")
    words.process(_Upper, named="api").filter(lambda k, v: v != "B", named="not-b").to(
        "out-api")
    words.filter(lambda k, v: v == "boom", named="check").peek(_explode, named="explode")


def _explode(key, value):
    raise RuntimeError("boom")


def _task(config=DEBUG, build=_build):
    builder = StreamsBuilder()
    build(builder)
    topology = builder.build()
    group = topology.subtopologies()[0]
    return Task("0_0", topology, Subtopology(0, group.nodes, [], [], group.stores),
                ListCollector(), "app", dict(config))


RECORDS = [("k", "a bb ccc", 1), ("k", "", 2), ("k", "b dd", 3)]
EXPECTED = {
    "KSTREAM-SOURCE-0000000000": 3,
    "KSTREAM-FLATMAPVALUES-0000000001": 3,
    "long": 5, "up": 3, "KSTREAM-SINK-0000000004": 3,
    "api": 5, "not-b": 5, "KSTREAM-SINK-0000000006": 4,
    "check": 5, "explode": 0,
}


def test_batch_loop_counts_each_node():
    task = _task()
    task.batch_entry("in")(RECORDS)
    assert task.node_process_totals() == EXPECTED


@pytest.mark.parametrize("config", [DEBUG, {**DEBUG, "operator.fusion": "false"}])
def test_per_record_entry_and_unfused_topology_count_the_same(config):
    task = _task(config)
    for key, value, ts in RECORDS:
        task.process("in", key, value, ts)
    assert task.node_process_totals() == EXPECTED


def test_an_iterator_batch_counts_per_record_and_batches_add_up():
    task = _task()
    run = task.batch_entry("in")
    run(iter(RECORDS[:2]))  # the runtime passes a zip of decoded columns
    run(RECORDS[2:])
    assert task.node_process_totals() == EXPECTED


def test_exception_mid_batch_keeps_the_counts_of_what_ran():
    task = _task()
    with pytest.raises(RuntimeError, match="boom"):
        task.batch_entry("in")([("k", "a", 1), ("k", "boom", 2), ("k", "never", 3)])
    totals = task.node_process_totals()
    assert totals["KSTREAM-SOURCE-0000000000"] == 2  # the third record never started
    assert (totals["check"], totals["explode"], totals["long"], totals["up"]) == (2, 1, 2, 1)
    assert totals["api"] == 2


def test_a_list_that_grows_while_it_runs_is_counted_whole():
    records = [("k", 1, 1)]

    def build(b):  # the first record appends a second one to the running batch
        b.stream("in").peek(lambda k, v: v == 1 and records.append(("k", 2, 2)),
                            named="grow")

    task = _task(build=build)
    task.batch_entry("in")(records)
    assert task.node_process_totals() == {"KSTREAM-SOURCE-0000000000": 2, "grow": 2}


def test_info_level_counts_nothing_and_generates_no_counters():
    task = _task({})
    run = task.batch_entry("in")
    run(RECORDS)
    assert task.node_process_totals() == {}
    assert "_cnt" not in run.source


def test_count_node_is_counted_without_its_null_records():
    def build(b):
        b.stream("in").group_by_key().count(named="cnt").to_stream(named="ts").to("out")

    task = _task(build=build)
    task.batch_entry("in")([("a", 1, 1), (None, 1, 2), ("a", 2, 3)])
    totals = task.node_process_totals()
    assert (totals["cnt"], totals["ts"]) == (3, 2)
