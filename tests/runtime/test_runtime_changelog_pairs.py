"""RecordCollector.send_changelog_pairs: a timestamped store's pending changes, sent
straight from its ``(key, (value, timestamp))`` dict items in one compiled loop, with the
same bytes, partition, timestamps and errors as one ``send_changelog`` per record."""

from __future__ import annotations

import gc
import struct

import pytest

from streamnb import Materialized, StreamsBuilder
from streamnb.engine.task import Task
from streamnb.errors import SerializationException
from streamnb.runtime.config import StreamsConfig
from streamnb.runtime.metrics import ThreadMetrics
from streamnb.runtime.record_collector import RecordCollector
from streamnb.serde import Serdes
from tests._producers import RecordingProducer


def _collector(producer):
    collector = RecordCollector(StreamsConfig({"application.id": "cl"}), lambda topic: 1,
                                ThreadMetrics("t"))
    collector.bind(producer)
    return collector


PENDING = {"a": (1, 10), "b": None, "é\n": (3, 12), "n": (None, 13)}
NOW = 99


@pytest.mark.parametrize("serdes", [(None, None), (Serdes.String(), Serdes.Long())])
def test_pairs_send_what_one_send_per_record_sends(serdes):
    one, pairs = RecordingProducer(), RecordingProducer()
    for key, stored in PENDING.items():
        value, ts = (None, NOW) if stored is None else stored
        _collector(one).send_changelog("cl-store-changelog", 2, key, value, ts, *serdes)
    _collector(pairs).send_changelog_pairs("cl-store-changelog", 2, PENDING.items(), NOW,
                                           *serdes)
    assert pairs.sent == one.sent
    tombstone = pairs.sent[1]
    assert tombstone[2] is None and tombstone[4] == NOW  # a delete: stamped with ``now``
    assert pairs.sent[3][2] is None  # a None value in the pair is written as a tombstone
    if serdes[1] is not None:
        assert pairs.sent[0][1:] == (b"a", struct.pack(">q", 1), 2, 10)


def test_a_full_queue_mid_loop_waits_and_loses_nothing():
    producer = RecordingProducer(full_at={2, 3})  # the 2nd record meets a full queue twice
    pending = {f"k{i}": (i, 100 + i) for i in range(6)}
    _collector(producer).send_changelog_pairs("t", 0, pending.items(), NOW, None, None)
    assert [r[4] for r in producer.sent] == [100, 101, 102, 103, 104, 105]
    assert [r[1] for r in producer.sent] == [b'"k%d"' % i for i in range(6)]
    assert producer.polls >= 1


def test_a_value_the_serde_cannot_write_raises_a_clear_error():
    producer = RecordingProducer()
    with pytest.raises(SerializationException, match="Long"):
        _collector(producer).send_changelog_pairs(
            "t", 0, {"a": (1, 1), "b": ("not a number", 2)}.items(), NOW, Serdes.String(),
            Serdes.Long())
    assert len(producer.sent) == 1


def test_a_replaced_producer_gets_the_pairs_too():
    first, second = RecordingProducer(), RecordingProducer()
    collector = _collector(first)
    collector.send_changelog_pairs("t", 0, {"a": (1, 1)}.items(), NOW, None, None)
    collector.bind(second)
    collector.send_changelog_pairs("t", 0, {"a": (1, 1)}.items(), NOW, None, None)
    assert len(first.sent) == 1 and len(second.sent) == 1


def test_nothing_pending_produces_nothing_and_opens_no_transaction():
    producer = RecordingProducer()
    collector = _collector(producer)
    opened = []
    collector.before_produce = lambda: opened.append(1)
    collector.send_changelog_pairs("t", 0, {}.items(), NOW, None, None)
    assert producer.sent == [] and opened == []


def _table_task(producer, send_old=False):
    builder = StreamsBuilder()
    table = builder.table("in", materialized=Materialized.as_("kv"))
    if send_old:
        table.group_by(lambda k, v: (v, k)).count()
    topology = builder.build()
    collector = _collector(producer)
    group = topology.subtopologies()[0]
    return Task("0_3", topology, group, collector, "app", {}, None, lambda: 0, 3), collector


def test_a_table_commit_sends_the_latest_change_per_key():
    """A task's timestamped store flushes through send_changelog_pairs: one record per key
    (its latest value and timestamp), deletes as tombstones."""
    producer = RecordingProducer()
    task, collector = _table_task(producer)
    collector.send_changelog_batch = None  # the record-tuple path must not be taken
    for i, (key, value) in enumerate([("a", "1"), ("b", "2"), ("a", "3"), ("b", None),
                                      ("c", "4")]):
        task.process("in", key, value, 1000 + i)
    task.commit()
    assert producer.sent == [
        ("app-kv-changelog", b'"a"', b'"3"', 3, 1002),
        ("app-kv-changelog", b'"b"', None, 3, 1004),
        ("app-kv-changelog", b'"c"', b'"4"', 3, 1004),
    ]
    task.commit()  # nothing new: nothing sent again
    assert len(producer.sent) == 3


class _CountingProducer(RecordingProducer):
    """Notes how many GC-tracked objects are alive (net, beyond its own ``sent`` records)
    at each produce call."""

    def __init__(self):
        super().__init__()
        self.live: list[int] = []

    def produce(self, *args, **kwargs):
        self.live.append(gc.get_count()[0] - len(self.sent))
        super().produce(*args, **kwargs)


def test_a_table_commit_builds_no_record_tuple_per_change():
    """Sending 2,000 changes keeps no per-change objects alive (the record-tuple path held
    one tuple per change until the last was produced: GC work at every commit)."""
    producer = _CountingProducer()
    task, _ = _table_task(producer)
    for i in range(2000):
        task.process("in", f"k{i}", "v", i)
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        before = gc.get_count()[0]
        task.commit()
    finally:
        if enabled:
            gc.enable()
    assert len(producer.sent) == 2000
    assert max(producer.live) - before < 100
