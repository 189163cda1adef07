"""The one noida-db broker a bench level runs against, started and stopped by the harness,
plus the output watchers that decide when a run is over."""

from __future__ import annotations

import threading
import time
import uuid
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, TopicPartition

from streamnb.broker import start_noida


@contextmanager
def noida(workdir: Path) -> Iterator[str]:
    """A fresh noida-db on a free loopback port; yields its bootstrap address."""
    broker = start_noida(workdir / f"noida-{uuid.uuid4().hex[:6]}", reuse_running=False,
                         timeout=30)
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


class FinalCountWatcher(threading.Thread):
    """Done when every word's latest count in ``topic`` equals its count in the input:
    duplicates after a rebalance (at-least-once) cannot end the run early. Expects
    streamnb's word count output: key = the word (string serde), value = the count as
    Kafka's Long serde writes it (8 bytes, big-endian): count() keeps its Long serde."""

    def __init__(self, bootstrap: str, topic: str, partitions: int,
                 final: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.final = final
        self.done_at: float | None = None
        self.seen = 0
        self._halt = threading.Event()
        self._consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                                   "enable.auto.commit": False})
        self._consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])

    def run(self) -> None:
        final = self.final
        missing = len(final)
        reached: set[bytes] = set()
        targets = {word.encode(): n.to_bytes(8, "big") for word, n in final.items()}
        try:
            while not self._halt.is_set() and missing:
                msgs = self._consumer.consume(20_000, 0.2)
                self.seen += len(msgs)
                for msg in msgs:
                    key = msg.key()
                    if msg.value() == targets.get(key) and key not in reached:
                        reached.add(key)
                        missing -= 1
            if not missing:
                self.done_at = time.perf_counter()
        finally:
            self._consumer.close()

    def stop(self) -> None:
        self._halt.set()


class VisibleEndWatcher(threading.Thread):
    """Notes when ``expected`` records are visible (read_committed) in ``topic`` without
    reading them while the clock runs.

    A consumer that reads the output during a run takes ~1.6 s of CPU per million records
    here, and the broker ~0.8 s more to serve it: on two cores, that is taken from the
    system being measured. So the thread only asks the broker for each partition's last
    stable offset (LSO: read_committed readers see exactly the records below it) every
    ``poll_s`` and keeps the history. Once the LSOs sum to at least ``expected`` (visible
    records can never be more) and have not moved for ``settle_s``, it reads the topic
    read_committed, once, and counts for each moment of the history the records below that
    moment's LSOs: ``done_at`` is the first moment that reached ``expected``. A run that is
    not done then goes on being watched; ``stop()`` ends the watch (the harness's timeout)
    and ``seen`` is then what was visible at the last poll."""

    def __init__(self, bootstrap: str, topic: str, partitions: int, expected: int,
                 poll_s: float = 0.02, settle_s: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.expected = expected
        self.done_at: float | None = None
        self.seen = 0
        self._poll_s = poll_s
        self._settle_s = settle_s
        self._halt = threading.Event()
        self._tps = [TopicPartition(topic, p) for p in range(partitions)]
        self._config = {"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex,
                        "isolation.level": "read_committed", "enable.auto.commit": False,
                        "enable.partition.eof": True}
        self._offsets_client = Consumer(self._config)
        self._offsets: list[list[int]] = [[] for _ in range(partitions)]

    def _stable_offsets(self) -> tuple[int, ...]:
        watermarks = self._offsets_client.get_watermark_offsets
        return tuple(watermarks(tp, timeout=10, cached=False)[1] for tp in self._tps)

    def _read_to_end(self) -> None:
        """Reads every record visible now, from the start, with a new consumer; offsets
        are kept per partition, in order. (A consumer kept from an earlier read would do
        less work, but noida-db 0.2.3 makes a read_committed consumer that waited at the
        start of a transaction skip its records once the same producer has aborted an
        earlier one: it reports the old abort again.)"""
        offsets: list[list[int]] = [[] for _ in self._tps]
        at_end: set[int] = set()
        reader = Consumer(self._config)
        try:
            reader.assign([TopicPartition(tp.topic, tp.partition, 0) for tp in self._tps])
            while len(at_end) < len(offsets):
                for msg in reader.consume(20_000, 1.0):
                    error = msg.error()
                    if error is None:
                        offsets[msg.partition()].append(msg.offset())
                        at_end.discard(msg.partition())
                    elif error.code() == KafkaError._PARTITION_EOF:
                        at_end.add(msg.partition())
                    else:
                        raise RuntimeError(f"reading the output: {error}")
        finally:
            reader.close()
        self._offsets = offsets

    def _visible(self, lso: tuple[int, ...]) -> int:
        return sum(bisect_left(offs, end) for offs, end in zip(self._offsets, lso, strict=True))

    def run(self) -> None:
        history: list[tuple[float, tuple[int, ...]]] = []
        try:
            moved_at = time.perf_counter()
            while not self._halt.is_set():
                lso = self._stable_offsets()
                now = time.perf_counter()
                if not history or lso != history[-1][1]:
                    history.append((now, lso))
                    moved_at = now
                elif sum(lso) >= self.expected and now - moved_at >= self._settle_s:
                    self._read_to_end()
                    for at, ends in history:
                        if self._visible(ends) >= self.expected:
                            self.done_at = at
                            break
                    if self.done_at is not None:
                        break
                    moved_at = now  # not all there yet: read again after the next settle
                self._halt.wait(self._poll_s)
            if history:
                if self.done_at is None:
                    self._read_to_end()
                self.seen = self._visible(history[-1][1])
        finally:
            self._offsets_client.close()

    def stop(self) -> None:
        self._halt.set()
