"""Batch loops keep the record timestamp in locals; the TaskContext must still be right
wherever code can read it (non-fused nodes, punctuation, after an exception)."""

import pytest

from streamnb import StreamsBuilder
from streamnb.engine.task import Task
from streamnb.topology.topology import Subtopology


class _Collector:
    def __init__(self):
        self.out = []
        self.changelog = []

    def send(self, topic, key, value, timestamp, *rest):
        self.out.append((topic, key, value, timestamp))

    def send_changelog(self, topic, partition, key, value, timestamp, *serdes):
        self.changelog.append((key, value, timestamp))


class _Seen:
    """A Processor API processor (never fused) recording what the context says."""

    def __init__(self, seen):
        self.seen = seen

    def init(self, context):
        self.context = context

    def process(self, record):
        self.seen.append((record.key, record.timestamp, self.context.current_stream_time_ms()))

    def close(self):
        pass


def _task(build):
    builder = StreamsBuilder()
    build(builder)
    topology = builder.build()
    group = topology.subtopologies()[0]
    collector = _Collector()
    task = Task("0_0", topology, Subtopology(0, group.nodes, [], [], group.stores), collector,
                "app")
    return task, collector


def test_non_fused_processor_after_fused_chain_sees_record_timestamp_and_stream_time():
    seen = []

    def build(b):
        b.stream("in").flat_map_values(str.split).map_values(str.upper).process(
            lambda: _Seen(seen))

    task, _ = _task(build)
    task.batch_entry("in")([("k", "a b", 30), ("k", "c", 10), ("k", "d", 40)])
    assert seen == [("k", 30, 30), ("k", 30, 30), ("k", 10, 30), ("k", 40, 40)]
    assert (task.ctx.timestamp, task.ctx.stream_time) == (40, 40)


def test_non_fused_processor_after_count_sees_the_max_timestamp():
    seen = []

    def build(b):
        b.stream("in").group_by_key().count().to_stream().process(lambda: _Seen(seen))

    task, _ = _task(build)
    task.batch_entry("in")([("a", 1, 50), ("a", 1, 10), ("b", 1, 5)])
    # The second "a" is out of order: its count update carries the max timestamp 50.
    assert seen == [("a", 50, 50), ("a", 50, 50), ("b", 5, 50)]
    assert task.ctx.timestamp == 5  # the last record's, not the aggregate's


def test_punctuation_after_a_fused_batch_sees_stream_time_and_context():
    def build(b):
        b.stream("in").map_values(str.upper).to("out")

    task, collector = _task(build)
    fired = []
    task.schedule(10, __import__("streamnb").PunctuationType.STREAM_TIME,
                  lambda now: fired.append((now, task.ctx.stream_time, task.ctx.timestamp)),
                  task.nodes[next(iter(task.nodes))])
    task.batch_entry("in")([("k", "x", 7), ("k", "y", 25)])
    assert task.ctx.stream_time == 25 and task.ctx.timestamp == 25
    assert task.maybe_punctuate_stream_time()
    assert fired == [(25, 25, 25)]
    assert task.ctx.timestamp == 25  # restored after punctuation
    assert [r[3] for r in collector.out] == [7, 25]


def test_exception_mid_batch_leaves_context_on_the_failing_record():
    def fail_on_boom(value):
        if value == "boom":
            raise ValueError("bad value")
        return value

    def build(b):
        b.stream("in").map_values(fail_on_boom).to("out")

    task, collector = _task(build)
    with pytest.raises(ValueError, match="bad value"):
        task.batch_entry("in")([("k", "ok", 5), ("k", "boom", 9), ("k", "never", 20)])
    assert (task.ctx.timestamp, task.ctx.stream_time, task.ctx.topic) == (9, 9, "in")
    assert collector.out == [("out", "k", "ok", 5)]


def test_exception_in_a_child_at_the_aggregate_timestamp_restores_the_record_timestamp():
    def build(b):
        b.stream("in").group_by_key().count().to_stream().map_values(
            lambda v: 1 // (v - 2)).to("out")

    task, _ = _task(build)
    with pytest.raises(ZeroDivisionError):
        task.batch_entry("in")([("a", 1, 50), ("a", 1, 10)])  # count 2 at max ts 50
    assert (task.ctx.timestamp, task.ctx.stream_time) == (10, 50)


def test_null_key_drop_in_batch_counts_the_metric_with_the_record_context():
    def build(b):
        b.stream("in").group_by_key().count().to_stream().to("out")

    task, collector = _task(build)
    task.batch_entry("in")([(None, 1, 3), ("a", None, 4), ("a", 1, 5)])
    assert task.ctx.dropped == {"null key or value": 2}
    assert [(k, v, ts) for _, k, v, ts in collector.out] == [("a", 1, 5)]


def test_empty_batch_leaves_the_context_unchanged():
    def build(b):
        b.stream("in").map_values(str.upper).to("out")

    task, _ = _task(build)
    task.batch_entry("in")([("k", "x", 7)])
    task.batch_entry("in")([])
    assert (task.ctx.timestamp, task.ctx.stream_time) == (7, 7)


def test_count_writes_the_store_and_logs_latest_per_key_per_commit():
    def build(b):
        b.stream("in").group_by_key().count(materialized="cnt").to_stream().to("out")

    task, collector = _task(build)
    sent = collector.changelog
    source = task.batch_entry("in")
    assert "_d" in source.source  # dict writes are subscripts, not method-wrapper calls
    source([("a", 1, 5), ("b", 1, 6), ("a", 1, 3)])
    assert task.stores["cnt"].get("a") == (2, 5)
    task.commit()
    assert sorted(sent) == [("a", 2, 5), ("b", 1, 6)]
    source([("a", 1, 8)])
    task.commit()
    assert sent[-1] == ("a", 3, 8) and len(sent) == 3
