"""Restoring stores from their changelog topics before a task processes anything.

A task that moves to this instance (or starts again after a crash) rebuilds each logged
store by replaying its changelog partition to its end: from the beginning, or, for a
persistent store whose local data a checkpoint vouches for, from the checkpointed offset
(checkpoints.py). Under exactly-once the restore consumer reads committed records only, so
the stores match what was committed together with the input offsets.

A checkpointed offset outside the changelog's offsets (the topic was truncated, deleted and
recreated, or its records expired) makes the task corrupted, as Kafka's
StoreChangelogReader says: ``TaskCorrupted`` names the partitions, and the stream thread
wipes those stores and restores them from the beginning.

Window and session stores come back the same way: their changelog keys decode to
``(key, window start[, seq])`` and ``Windowed`` keys, and their ``_restore``/``put`` applies
the retention, so windows that expired meanwhile are skipped rather than revived.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from ..errors import StreamsException
from ..state.processor_metadata import (
    ProcessorMetadata,
    decode_offset_metadata,
    encode_offset_metadata,
)
from .record_collector import changelog_decoders

log = logging.getLogger("streamnb.runtime")


@dataclass
class RestoreTarget:
    """One store of one task and where its changelog is."""

    store: Any
    topic: str
    partition: int
    decode_key: Any
    decode_value: Any
    timestamped: bool
    #: the offset to resume from (a checkpoint); None = the changelog's beginning
    start: int | None = None


class TaskCorrupted(StreamsException):
    """Changelog ``partitions`` cannot resume from their checkpointed offsets (Kafka's
    TaskCorruptedException): their stores must be wiped and restored from scratch."""

    def __init__(self, partitions: set[tuple[str, int]], why: str) -> None:
        super().__init__(f"changelog partition(s) {sorted(partitions)}: {why}")
        self.partitions = partitions


def restore_targets(task: Any, topology: Any, config: Any,
                    starts: dict[str, int | None] | None = None) -> list[RestoreTarget]:
    """The logged stores of ``task`` with the decoders of their changelog records, and the
    offset each resumes from (``starts``: store name -> offset; absent = the beginning)."""
    starts = starts or {}
    targets = []
    for name, store in task.stores.items():
        topic = getattr(store, "changelog_topic", None)
        if not topic:
            continue
        builder = topology.stores[name]
        decode_key, decode_value = changelog_decoders(builder, topic, config)
        targets.append(RestoreTarget(store, topic, task.partition, decode_key, decode_value,
                                     bool(getattr(store, "timestamped", False)),
                                     starts.get(name)))
    return targets


def _apply(target: RestoreTarget, key: Any, value: Any, timestamp: int) -> None:
    """Write a changelog record into the store without logging it again: what the change
    logger was given is handed back (timestamped stores keep ``(value, timestamp)``)."""
    if value is not None and target.timestamped:
        value = (value, timestamp)
    store = target.store
    restore = getattr(store, "_restore", None)
    if restore is not None:
        restore(key, value)
        return
    logger, store._change_logger = store._change_logger, None
    try:
        store.put(key, value)
    finally:
        store._change_logger = logger


def restore(consumer: Consumer, targets: list[RestoreTarget], timeout_s: float,
            ends: dict[tuple[str, int], int] | None = None) -> int:
    """Replay every target's changelog partition from its start to its end; return the
    records applied. ``ends`` gets the offset each partition is now restored up to.

    Raises ``TaskCorrupted`` when a checkpointed start is out of the partition's range
    (checked before anything is applied) or the broker says so while fetching."""
    by_tp: dict[tuple[str, int], list[RestoreTarget]] = {}
    for target in targets:
        by_tp.setdefault((target.topic, target.partition), []).append(target)
    pending: dict[tuple[str, int], int] = {}
    corrupted: set[tuple[str, int]] = set()
    reached: dict[tuple[str, int], int] = {}
    for tp, group in by_tp.items():
        low, high = consumer.get_watermark_offsets(TopicPartition(*tp), timeout=10)
        starts = {target.start for target in group}
        start = starts.pop() if len(starts) == 1 else None
        if start is None and any(target.start is not None for target in group):
            corrupted.add(tp)  # stores sharing a changelog disagree: start them over
            continue
        if start is not None and not low <= start <= high:
            log.warning("the checkpointed offset %d of changelog partition %s-%d is out of "
                        "its range [%d, %d] (truncated, recreated or expired): the task is "
                        "corrupted", start, tp[0], tp[1], low, high)
            corrupted.add(tp)
            continue
        reached[tp] = high
        if high > (low if start is None else start):
            pending[tp] = OFFSET_BEGINNING if start is None else start
    if corrupted:
        raise TaskCorrupted(corrupted, "cannot resume restoring from the checkpointed offsets")
    if ends is not None:
        ends.update(reached)
    if not pending:
        return 0
    consumer.assign([TopicPartition(t, p, offset) for (t, p), offset in pending.items()])
    applied = 0
    deadline = time.monotonic() + timeout_s
    try:
        while pending:
            if time.monotonic() > deadline:
                raise StreamsException(
                    f"restoring state from changelog partitions {sorted(pending)} did not "
                    f"finish within {timeout_s:g} s (task.timeout.ms); is the broker reachable?"
                )
            for msg in consumer.consume(10_000, 0.2):
                err = msg.error()
                tp = (msg.topic(), msg.partition())
                if err is not None:
                    code = err.code()
                    if code == KafkaError._PARTITION_EOF:
                        pending.pop(tp, None)
                        if ends is not None and msg.offset() >= 0:
                            ends[tp] = msg.offset()
                        continue
                    if code in _OUT_OF_RANGE and tp in pending:
                        log.warning("restoring changelog partition %s-%d: %s; the task is "
                                    "corrupted", tp[0], tp[1], err.str())
                        raise TaskCorrupted({tp}, err.str())
                    if err.fatal():
                        raise StreamsException(f"restore consumer failed: {err.str()}")
                    log.warning("restore consumer: %s", err.str())
                    continue
                timestamp = msg.timestamp()[1]
                key_bytes, value_bytes = msg.key(), msg.value()
                for target in by_tp[tp]:
                    key = target.decode_key(key_bytes)
                    value = target.decode_value(value_bytes)
                    _apply(target, key, value, timestamp)
                applied += 1
    finally:
        consumer.unassign()
    return applied


_OUT_OF_RANGE = frozenset({KafkaError.OFFSET_OUT_OF_RANGE, KafkaError._AUTO_OFFSET_RESET})


# -- processor metadata (committed with the input offsets, as Kafka's) -----------------------
def load_committed_metadata(consumer: Consumer, task: Any, partitions: list[TopicPartition],
                            timeout_s: float = 10.0) -> ProcessorMetadata:
    """Read the committed offsets of ``task``'s input ``partitions`` and hand the processor
    metadata they carry to the task (merged: the largest value of each key wins).

    Call it on assignment, after the stores are restored and before processing."""
    merged = ProcessorMetadata()
    if partitions:
        for tp in consumer.committed(partitions, timeout=timeout_s):
            if tp.error is None:
                merged.update(decode_offset_metadata(getattr(tp, "metadata", None))[1])
    if len(merged):
        task.load_processor_metadata(merged)
    return merged


def offset_metadata(task: Any, partition_time: int | None = None) -> str | None:
    """The ``metadata`` of an input offset that ``task`` commits: Kafka's partition time and
    processor metadata, or None when the task has no processor metadata yet. The partition
    time defaults to the task's stream time. Kafka commits it to every input partition once
    it changed; carrying it on every commit is simpler and as correct (a few dozen bytes)."""
    metadata = getattr(task, "processor_metadata", None)
    if metadata is None or not len(metadata):
        return None
    metadata.needs_commit = False
    if partition_time is None:
        partition_time = task.ctx.stream_time
    return encode_offset_metadata(partition_time, metadata)
