"""The one noida-db broker a bench level runs against, started and stopped by the harness,
plus the output watchers that decide when a run is over."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

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
