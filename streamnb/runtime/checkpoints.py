"""Checkpoints of persistent stores: which changelog offset a store's local data covers.

Kafka's rules (ProcessorStateManager, StateManagerUtil, StreamTask, StoreChangelogReader):

* a persistent, logged store whose data is vouched for by a checkpoint restores only the
  changelog records after it; without one (or with an unusable one) it starts over from the
  beginning, and its local data is wiped first. In-memory stores always start over.
* a task checkpoints after a commit only once its changelogs moved on by more than
  ``OFFSET_DELTA_THRESHOLD_FOR_CHECKPOINT`` records since the last checkpoint, always after a
  restoration (at-least-once) and at a clean close; the stores are flushed first.
* exactly-once: the checkpoint is deleted when the task starts (a crash mid-transaction must
  not leave one vouching for uncommitted writes) and written again only at a clean close.

Each store keeps its checkpoint beside its data (``<task>/<store>/checkpoint.json``, written
by the store's own ``flush`` after the data is durable); Kafka keeps one ``.checkpoint`` per
task. Offsets here are the next offset to restore from (Kafka's file holds the offset of the
last record applied, and restoration seeks one past it: the same position).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from ..state.persistent import CHECKPOINT_FILE, read_checkpoint_file

log = logging.getLogger("streamnb.runtime")

#: Kafka's StateManagerUtil.OFFSET_DELTA_THRESHOLD_FOR_CHECKPOINT.
OFFSET_DELTA_THRESHOLD_FOR_CHECKPOINT = 10_000

TP = tuple[str, int]


def checkpointable(store: Any) -> bool:
    """Whether ``store`` keeps local data that a checkpoint can vouch for."""
    return bool(getattr(store, "persistent", False)) and all(
        callable(getattr(store, name, None))
        for name in ("checkpoint", "read_checkpoint", "clear_checkpoint"))


def wipe_store(task_dir: Path, store: str, why: str) -> None:
    """Delete a store's local data (it is restored from the changelog's beginning)."""
    directory = Path(task_dir) / store
    if directory.exists():
        log.info("state store %s of task %s: %s; wiping its local data and restoring it from "
                 "the beginning of its changelog", store, Path(task_dir).name, why)
        shutil.rmtree(directory, ignore_errors=True)


def start_offsets(task_dir: Path, changelogs: dict[str, str], partition: int,
                  source_topics: Iterable[str]) -> dict[str, int | None]:
    """Before a task opens its stores: the offset each logged store resumes restoring from
    (``None``: the beginning). A store's data without a valid checkpoint for its changelog
    partition is wiped here. A store whose changelog is a source topic of the task always
    starts over (its position is the input's, not a changelog's end)."""
    sources = set(source_topics)
    starts: dict[str, int | None] = {}
    for store, topic in changelogs.items():
        directory = Path(task_dir) / store
        start = None
        why = "no checkpoint"
        if topic in sources:
            why = "its changelog is a source topic"
        elif (directory / CHECKPOINT_FILE).exists():
            offsets = read_checkpoint_file(directory, store)
            found = None if offsets is None else offsets.get((topic, partition))
            if offsets is None:
                why = "its checkpoint is unreadable"
            elif isinstance(found, int) and found >= 0 and len(offsets) == 1:
                start = found
            else:
                why = (f"its checkpoint {offsets} is not for changelog partition "
                       f"{topic}-{partition}")
        if start is None:
            wipe_store(task_dir, store, why)
        starts[store] = start
    return starts


def end_offsets(consumer: Consumer, partitions: Iterable[TP],
                timeout_s: float = 10.0) -> dict[TP, int] | None:
    """The end offsets of changelog ``partitions`` (one broker round trip each), or None
    when the broker cannot tell (no checkpoint is written then; the old one stays valid)."""
    ends = {}
    for topic, partition in partitions:
        try:
            _low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                        timeout=timeout_s, cached=False)
        except KafkaException as exc:
            log.debug("end offset of %s-%d: %s", topic, partition, exc)
            return None
        if high is None or high < 0:
            return None
        ends[(topic, partition)] = high
    return ends


class TaskCheckpoints:
    """The checkpointable stores of one task, and the offsets of its last checkpoint."""

    __slots__ = ("task_id", "entries", "snapshot", "eos")

    def __init__(self, task: Any, eos: bool, source_topics: Iterable[str]) -> None:
        self.task_id = task.task_id
        self.eos = eos
        sources = set(source_topics)
        #: (store, changelog partition) of each logged store a checkpoint can vouch for
        self.entries: list[tuple[Any, TP]] = [
            (store, (store.changelog_topic, task.partition))
            for store in task.stores.values()
            if getattr(store, "changelog_topic", None) and checkpointable(store)
            and store.changelog_topic not in sources]
        #: changelog offsets of the last checkpoint (Kafka's offsetSnapshotSinceLastFlush)
        self.snapshot: dict[TP, int] = {}

    @property
    def partitions(self) -> list[TP]:
        return [tp for _store, tp in self.entries]

    def started(self, starts: dict[TP, int | None]) -> None:
        """The stores were opened at ``starts``; under exactly-once their checkpoints are
        deleted now, before anything is restored or processed."""
        self.snapshot = {tp: start for tp, start in starts.items() if start is not None}
        if self.eos:
            for store, _tp in self.entries:
                store.clear_checkpoint()

    def restored(self, ends: dict[TP, int]) -> None:
        """Restoration reached ``ends``; at-least-once checkpoints it at once (Kafka's
        completeRestoration), exactly-once only notes it."""
        if self.eos:
            self.snapshot.update({tp: ends[tp] for tp in self.partitions if tp in ends})
            return
        self.write(ends)

    def needed(self, ends: dict[TP, int], enforce: bool) -> bool:
        """Kafka's checkpointNeeded: enforced, or the changelogs moved on by more than the
        threshold since the last checkpoint."""
        if enforce:
            return True
        delta = sum(ends[tp] - self.snapshot.get(tp, 0) for tp in self.partitions if tp in ends)
        return delta > OFFSET_DELTA_THRESHOLD_FOR_CHECKPOINT

    def write(self, ends: dict[TP, int]) -> None:
        """Flush each store and its checkpoint at ``ends`` (the store writes the checkpoint
        after its data). Call it once the changelog records up to ``ends`` are acknowledged
        (and, under exactly-once, committed)."""
        written = {}
        for store, tp in self.entries:
            end = ends.get(tp)
            if end is None:
                continue
            store.checkpoint({tp: end})
            store.flush()
            written[tp] = end
        self.snapshot.update(written)
        if written:
            log.debug("task %s checkpointed %s", self.task_id, written)
