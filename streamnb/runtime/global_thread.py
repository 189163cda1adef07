"""The global thread: keeps global stores (GlobalKTable) as full copies of their topics.

Before any stream thread starts, every partition of every global topic is read to its end
(bootstrap), so that joins against a global table see all of it; afterwards the thread keeps
the stores updated. Global stores are not logged: their source topic is their changelog.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from ..engine.task import Task
from ..errors import SerializationException, StreamsException
from ..topology.topology import SourceSpec, Subtopology
from .codecs import decoder, resolve_serde

log = logging.getLogger("streamnb.runtime")


class _NoOutput:
    """Collector of the global task: a global store's updater must not forward records."""

    def send(self, topic: str, *args: Any, **kwargs: Any) -> None:
        raise StreamsException(
            f"a global store processor tried to send a record to {topic!r}; global store "
            "updaters only write their store"
        )

    def send_changelog(self, *args: Any, **kwargs: Any) -> None:
        """Global stores have no changelog: their source topic is one."""


class GlobalThread(threading.Thread):
    """Bootstraps and then maintains the client's global stores."""

    def __init__(self, client: Any) -> None:
        super().__init__(name=f"{client.client_id}-GlobalStreamThread", daemon=True)
        self.client = client
        config = client.config
        topology = client.topology
        nodes = [name for name, spec in topology.nodes.items() if spec.global_store is not None]
        sub = Subtopology(-1, nodes, [], [], list(topology.global_stores))
        self.task = Task("global", topology, sub, _NoOutput(), config.application_id,
                         config.engine_config(), client.app_dir / "global",
                         lambda: int(time.time() * 1000), 0)
        self.stores = self.task.stores
        self.lock = threading.RLock()
        self.bootstrapped = threading.Event()
        self.error: BaseException | None = None
        self._stop_event = threading.Event()
        self._decoders: dict[str, tuple[Any, Any]] = {}
        for spec in topology.nodes.values():
            if isinstance(spec, SourceSpec) and spec.global_store is not None:
                for topic in spec.topics:
                    real = client.real_topic(topic)
                    self._decoders[real] = (
                        decoder(resolve_serde(spec.key_serde, config.default_key_serde), real),
                        decoder(resolve_serde(spec.value_serde, config.default_value_serde),
                                real))
        self._consumer = Consumer({
            "bootstrap.servers": client.bootstrap_servers,
            "group.id": f"{config.application_id}-global",
            "client.id": f"{self.name}-consumer",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": ("read_committed" if config.exactly_once
                                else "read_uncommitted"),
            "logger": logging.getLogger("streamnb.runtime.kafka"),
            **config.consumer_config("global"),
        })

    def stop(self) -> None:
        self._stop_event.set()

    def run(self) -> None:
        consumer = self._consumer
        try:
            partitions = [TopicPartition(topic, p, OFFSET_BEGINNING)
                          for topic in self._decoders
                          for p in range(self.client.partition_count(topic))]
            pending = {(tp.topic, tp.partition) for tp in partitions}
            consumer.assign(partitions)
            while not self._stop_event.is_set():
                msgs = consumer.consume(5000, 0.1)
                with self.lock:
                    for msg in msgs:
                        err = msg.error()
                        if err is not None:
                            if err.code() == KafkaError._PARTITION_EOF:
                                pending.discard((msg.topic(), msg.partition()))
                            elif err.fatal():
                                raise StreamsException(f"global consumer: {err.str()}")
                            else:
                                log.warning("global consumer: %s", err.str())
                            continue
                        self._apply(msg)
                    self.task.commit()
                if not pending and not self.bootstrapped.is_set():
                    self.bootstrapped.set()
        except BaseException as exc:
            self.error = exc
            log.error("global thread failed: %s", exc, exc_info=exc)
        finally:
            self.bootstrapped.set()
            try:
                consumer.close()
            finally:
                with self.lock:
                    self.task.close()
            if self.error is not None:
                self.client._global_died(self.error)

    def _apply(self, msg: Any) -> None:
        topic = msg.topic()
        decode_key, decode_value = self._decoders[topic]
        try:
            key = decode_key(msg.key())
            value = decode_value(msg.value())
        except SerializationException as exc:
            handler = self.client.config["default.deserialization.exception.handler"]
            if handler == "logAndContinue":
                log.warning("Skipping global record at %s[%d]@%d: %s", topic,
                            msg.partition(), msg.offset(), exc)
                return
            raise
        self.task.process(topic, key, value, msg.timestamp()[1], msg.headers(),
                          msg.partition(), msg.offset())
