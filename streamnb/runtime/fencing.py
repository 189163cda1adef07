"""Transactional ids of the exactly-once producers, and fencing what a crash left open.

Kafka Streams names a thread's producer ``<application.id>-<process id>-<thread>`` and
relies on ``init_transactions`` of the restarted thread to abort the transaction a crash
left open. That alone is not enough on noida-db 0.2.3 (see tests/runtime/
test_runtime_noida_txn.py): the fence keeps the producer id, and noida-db still lists the
aborted transaction in fetch responses that start past its abort marker, so librdkafka's
read_committed consumers that waited at the open transaction silently drop all later
records of that producer id. And
noida-db never aborts a transaction on ``transaction.timeout.ms``.

So a thread first fences the id its previous incarnation used (aborting its open
transaction, which unblocks read_committed readers), then works under a fresh id
(``...-<thread>-<incarnation>``), whose producer id has no aborted transaction. The same
renewal follows any abort while running. The id in use is recorded in the state dir,
marked clean when the thread shuts down without an open transaction.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaException, Producer

log = logging.getLogger("streamnb.runtime")


class TransactionalIds:
    """The transactional ids of one stream thread (by index) of one app instance."""

    def __init__(self, app_dir: Path, base: str, index: int) -> None:
        self._path = Path(app_dir) / f"streamnb-txn-{index}.json"
        self._prefix = f"{base}-{index}"

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self._path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, Any]) -> None:
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self._path)

    def fence_previous(self, producer_config: dict[str, Any], timeout: float) -> str | None:
        """Abort the transaction the last incarnation may have left open (it crashed, or
        its abort failed); returns the id fenced, or None when it ended cleanly."""
        data = self._read()
        previous = data.get("id")
        if not previous or data.get("clean"):
            return None
        fencer = Producer({**producer_config, "transactional.id": previous})
        try:
            fencer.init_transactions(timeout)
        finally:
            fencer.flush(0)
        log.info("fenced transactional.id %s left by a previous run", previous)
        return previous

    def next_id(self) -> str:
        """A fresh id (never used for an aborted transaction), recorded before it is used."""
        data = self._read()
        incarnation = int(data.get("incarnation", 0)) + 1
        transactional_id = f"{self._prefix}-{incarnation}"
        self._write({"id": transactional_id, "incarnation": incarnation, "clean": False})
        return transactional_id

    def mark_clean(self, transactional_id: str) -> None:
        """The producer of ``transactional_id`` ended with no open transaction."""
        data = self._read()
        if data.get("id") == transactional_id:
            data["clean"] = True
            try:
                self._write(data)
            except OSError as exc:  # the state dir was removed: nothing to fence then
                log.debug("cannot record a clean end of %s: %s", transactional_id, exc)


def new_transactional_producer(ids: TransactionalIds, producer_config: dict[str, Any],
                               timeout: float) -> tuple[Producer, str]:
    """A transactional producer under a fresh id, with ``init_transactions`` done."""
    transactional_id = ids.next_id()
    producer = Producer({**producer_config, "transactional.id": transactional_id})
    try:
        producer.init_transactions(timeout)
    except KafkaException:
        producer.flush(0)
        raise
    return producer, transactional_id
