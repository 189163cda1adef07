"""Batch loops keep the task's stream time and a windowed node's observed stream time in
locals for the whole batch; wherever other code can read them (a Processor API node, a
dropped record, after an exception, between batches) they must be what per-record
processing would have left."""

import pytest

from streamnb import StreamsBuilder, TimeWindows
from streamnb.engine.task import Task
from streamnb.topology.topology import Subtopology


class _Collector:
    def __init__(self):
        self.out = []

    def send(self, topic, key, value, timestamp, *rest):
        self.out.append((topic, key, value, timestamp))

    def send_changelog(self, *args):
        pass


class _Seen:
    """A Processor API processor (never inlined) recording the stream time it reads."""

    def __init__(self, seen, fail_on=None):
        self.seen, self.fail_on = seen, fail_on

    def init(self, context):
        self.context = context

    def process(self, record):
        key = getattr(record.key, "key", record.key)  # a windowed key's own key
        self.seen.append((key, self.context.current_stream_time_ms()))
        if key == self.fail_on:
            raise ValueError("bad record")

    def close(self):
        pass


def _task(build):
    builder = StreamsBuilder()
    build(builder)
    topology = builder.build()
    groups = topology.subtopologies()
    merged = Subtopology(0, [n for g in groups for n in g.nodes], [], [],
                         [s for g in groups for s in g.stores])
    return Task("0_0", topology, merged, _Collector(), "app")


def _window_node(task):
    return next(n for n in task.nodes.values() if hasattr(n, "observed_stream_time"))


def test_processor_after_a_filter_reads_stream_time_mid_batch():
    seen = []

    def build(b):
        b.stream("in").filter(lambda k, v: v != "skip").process(lambda: _Seen(seen))

    task = _task(build)
    task.batch_entry("in")([("a", "x", 10), ("b", "skip", 50), ("c", "x", 20),
                            ("d", "x", 60)])
    # the filtered record moved stream time on (50) before "c" was seen
    assert seen == [("a", 10), ("c", 50), ("d", 60)]
    assert task.ctx.stream_time == 60


def test_processor_exception_mid_batch_leaves_stream_time_of_the_failing_record():
    seen = []

    def build(b):
        b.stream("in").process(lambda: _Seen(seen, fail_on="boom"))

    task = _task(build)
    run = task.batch_entry("in")
    with pytest.raises(ValueError, match="bad record"):
        run([("a", 1, 10), ("boom", 1, 30), ("never", 1, 90)])
    assert task.ctx.stream_time == 30 and task.ctx.timestamp == 30
    run([("b", 1, 20)])  # stream time does not go back
    assert task.ctx.stream_time == 30 and seen[-1] == ("b", 30)


def test_dropped_records_see_the_stream_time_and_windows_close_on_it(monkeypatch):
    def build(b):
        (b.stream("in").group_by_key().windowed_by(TimeWindows.of_size_and_grace(100, 10))
         .count().to_stream().to("out"))

    task = _task(build)
    logged = []
    record_dropped = type(task.ctx).record_dropped

    def spy(ctx, node, reason):  # what the context says when a drop is counted
        logged.append((reason, ctx.timestamp, ctx.stream_time,
                       _window_node(task).observed_stream_time))
        record_dropped(ctx, node, reason)

    monkeypatch.setattr(type(task.ctx), "record_dropped", spy)
    task.batch_entry("in")([("a", 1, 5), (None, 1, 150), ("a", 1, 20), ("a", 1, 200),
                            ("a", 1, 50)])
    # the null key moves the task's stream time but not the node's observed time; 20 is
    # still within grace then (observed 5), 50 is not once 200 was seen
    assert logged == [("null key", 150, 150, 5), ("expired window", 50, 200, 200)]
    assert [(v, ts) for _t, _k, v, ts in task.ctx.collector.out] == [(1, 5), (2, 20),
                                                                      (1, 200)]
    assert (task.ctx.stream_time, _window_node(task).observed_stream_time) == (200, 200)


def test_times_survive_between_batches_and_empty_batches():
    def build(b):
        (b.stream("in").group_by_key().windowed_by(TimeWindows.of_size_and_grace(100, 0))
         .count().to_stream().to("out"))

    task = _task(build)
    run = task.batch_entry("in")
    run([("a", 1, 120)])
    run([])
    assert (task.ctx.stream_time, _window_node(task).observed_stream_time) == (120, 120)
    run([("a", 1, 30)])  # window [0, 100) closed at observed time 120, in a later batch
    assert task.ctx.dropped == {"expired window": 1}


def test_exception_in_a_processor_after_a_window_keeps_the_failing_record_times():
    seen = []

    def build(b):
        (b.stream("in").group_by_key().windowed_by(TimeWindows.of_size_and_grace(100, 0))
         .count().to_stream().process(lambda: _Seen(seen, fail_on="boom")))

    task = _task(build)
    with pytest.raises(ValueError, match="bad record"):
        task.batch_entry("in")([("a", 1, 10), ("boom", 1, 250), ("a", 1, 300)])
    assert seen == [("a", 10), ("boom", 250)]
    assert (task.ctx.stream_time, _window_node(task).observed_stream_time) == (250, 250)

