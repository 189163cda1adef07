"""Join window stores buffer their changelog and the task sends it at commit: the same
records, numbered as per-put logging numbers them, whether the collector takes a batch
(``send_changelog_batch``) or one record per call (``send_changelog``)."""

from __future__ import annotations

from typing import Any

import pytest

from streamnb import StreamsBuilder
from streamnb.dsl.join_options import StreamJoined
from streamnb.dsl.join_windows import JoinWindows
from streamnb.engine.task import Task
from streamnb.state.join_window import MAX_SEQ, JoinWindowStore
from streamnb.topology.topology import Subtopology

THIS, OTHER = "KSTREAM-JOINTHIS-0000000004-store", "KSTREAM-JOINOTHER-0000000005-store"


class PerRecordCollector:
    """A collector without a batch method: the task must fall back to one call each."""

    def __init__(self) -> None:
        self.out: list[tuple[Any, Any, int]] = []
        self.changelog: list[tuple[str, int, Any, Any, int]] = []
        self.calls = 0

    def send(self, topic, key, value, timestamp, headers, key_serde, value_serde, partitioner,
             sink_name) -> None:
        self.out.append((key, value, timestamp))

    def send_changelog(self, topic, partition, key, value, timestamp, key_serde,
                       value_serde) -> None:
        self.calls += 1
        self.changelog.append((topic, partition, key, value, timestamp))


class BatchCollector(PerRecordCollector):
    def send_changelog_batch(self, topic, partition, records, key_serde, value_serde) -> None:
        self.calls += 1
        self.changelog.extend((topic, partition, k, v, ts) for k, v, ts in records)


def _task(collector, kind: str = "join", logged: bool = True) -> Task:
    builder = StreamsBuilder()
    left, right = builder.stream("left"), builder.stream("right")
    joined = StreamJoined() if logged else StreamJoined().with_logging_disabled()
    getattr(left, kind)(right, lambda a, b: f"{a}+{b}",
                        JoinWindows.of_time_difference_with_no_grace(100), joined).to("out")
    topology = builder.build()
    groups = topology.subtopologies()
    merged = Subtopology(0, [n for g in groups for n in g.nodes], [], [],
                         [s for g in groups for s in g.stores])
    return Task("0_0", topology, merged, collector, "app")


RECORDS = [("left", "a", "x", 0), ("right", "a", "y", 50), ("left", "b", "z", 60),
           ("left", "a", "w", 40), ("right", "c", "v", 500), ("left", "a", "u", 10)]


def _run(collector, kind: str = "join", commit_every: int = 2):
    task = _task(collector, kind)
    sent_before_commit = []
    for index, (topic, key, value, ts) in enumerate(RECORDS, 1):
        task.process(topic, key, value, ts)
        if index % commit_every == 0:
            task.commit()
        sent_before_commit.append(len(collector.changelog))
    task.commit()
    return task, sent_before_commit


@pytest.mark.parametrize("kind", ["join", "left_join", "outer_join"])
def test_batch_and_per_record_collectors_get_the_same_changelog(kind):
    per_record, batch = PerRecordCollector(), BatchCollector()
    _run(per_record, kind)
    _run(batch, kind)
    assert per_record.changelog == batch.changelog
    assert per_record.out == batch.out
    # Each side's window store logs each of its side's records (outer stores log more).
    assert len(batch.changelog) >= len(RECORDS)
    assert per_record.calls == len(per_record.changelog) > batch.calls


def test_every_write_is_its_own_record_numbered_in_write_order():
    collector = BatchCollector()
    _run(collector, commit_every=4)
    this = [(k, v, ts) for topic, _p, k, v, ts in collector.changelog
            if topic == f"app-{THIS}-changelog"]
    # Two writes of key "a" within one commit both stay (a join store keeps duplicates).
    assert this == [(("a", 0, 1), "x", 0), (("b", 60, 2), "z", 60), (("a", 40, 3), "w", 40),
                    (("a", 10, 4), "u", 10)]
    other = [(k, v, ts) for topic, _p, k, v, ts in collector.changelog
             if topic == f"app-{OTHER}-changelog"]
    assert other == [(("a", 50, 1), "y", 50), (("c", 500, 2), "v", 500)]
    # One batch per store and commit that had writes: commits after record 4 and at the end.
    assert collector.calls == 4


def test_nothing_is_sent_before_the_commit_and_everything_at_it():
    collector = BatchCollector()
    task, sent = _run(collector, commit_every=3)
    assert sent[:2] == [0, 0]  # records 1-2: still buffered
    assert sent[2] == 3  # the commit after record 3 sent its three writes
    assert len(collector.changelog) == len(RECORDS)
    assert all(not store.log_buffer for store in task.stores.values())


def test_disabled_logging_buffers_nothing():
    collector = BatchCollector()
    task = _task(collector, logged=False)
    for topic, key, value, ts in RECORDS:
        task.process(topic, key, value, ts)
    task.commit()
    assert collector.changelog == []
    assert all(store.log_buffer is None for store in task.stores.values())


def test_restoring_the_sent_records_gives_the_same_store():
    collector = BatchCollector()
    task, _ = _run(collector)
    restored = JoinWindowStore(THIS, 200, 200)
    restored.buffer_changelog()
    for topic, _p, key, value, ts in collector.changelog:
        if topic == f"app-{THIS}-changelog":
            restored._restore(key, (value, ts))
    assert list(restored.all()) == list(task.stores[THIS].all())
    assert restored.log_buffer == []  # restoring logs nothing again
    assert restored.seq == 4  # later writes continue the numbering


def test_drain_numbers_continue_and_wrap_like_kafkas_sequence():
    store = JoinWindowStore("s", 1000, 500)
    store.buffer_changelog()
    store.put("k", "v1", 5)
    store.put("k", "v2", 5)
    assert store.drain_changelog() == [(("k", 5, 1), "v1", 5), (("k", 5, 2), "v2", 5)]
    assert store.drain_changelog() == []
    store.seq = MAX_SEQ - 1
    for value in ("a", "b", "c"):
        store.put("k", value, 6)
    assert [key[2] for key, _v, _ts in store.drain_changelog()] == [MAX_SEQ, 0, 1]
    assert store.seq == 1


def test_a_per_put_logger_still_works_without_buffering():
    store = JoinWindowStore("s", 1000, 500)
    calls = []
    store._change_logger = lambda key, value: calls.append((key, value))
    store.put("k", "v", 7)
    assert calls == [(("k", 7, 1), ("v", 7))]
