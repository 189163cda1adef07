"""The runtime's record collector: serialize sink and changelog records and produce them.

Records are handed to librdkafka without a per-record flush or delivery callback (the
producer reports failed deliveries only); the stream thread flushes before it commits.
Keyed records are partitioned by librdkafka's ``murmur2_random``, which is Kafka's default
partitioner, so repartition topics co-partition exactly as they do under Java Kafka Streams.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from itertools import islice
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from ..errors import SerializationException, StreamsException
from .codecs import (
    PARTITION_ANY,
    compile_changelog_all,
    compile_changelog_pairs,
    compile_produce_all,
    decoder,
    encoder,
    resolve_serde,
)
from .config import StreamsConfig

log = logging.getLogger("streamnb.runtime")
_PURGED = (KafkaError._PURGE_QUEUE, KafkaError._PURGE_INFLIGHT)


class ProductionException(StreamsException):
    """A record could not be written to Kafka (see ``default.production.exception.handler``)."""


class RecordCollector:
    """Sink and changelog output of all tasks of one stream thread, through one producer."""

    def __init__(self, config: StreamsConfig, partition_count: Callable[[str], int],
                 metrics: Any) -> None:
        self._key_default = config.default_key_serde
        self._value_default = config.default_value_serde
        self._handler = config["default.production.exception.handler"]
        self._partition_count = partition_count
        self._metrics = metrics
        self._encoders: dict[tuple, tuple[Any, Any]] = {}
        self._targets: dict[tuple, _SinkTarget] = {}
        # (topic, id(key serde), id(value serde)) -> (topic, serdes, compiled batch send)
        self._changelog_batches: dict[tuple, tuple[str, tuple[Any, Any], Any]] = {}
        self._changelog_pairs: dict[tuple, tuple[str, tuple[Any, Any], Any]] = {}
        self._last_changelog: tuple = (None, None, None, None, None)
        self.error: BaseException | None = None
        # Called before anything is produced, when set: under exactly-once the stream
        # thread sets it while no transaction is open (or the last one is still committing
        # in the background), so the first record waits for that commit and opens the next
        # transaction; nothing is ever produced into a transaction that is committing.
        self.before_produce: Callable[[], None] | None = None

    def bind(self, producer: Producer) -> None:
        """Attach the producer (created after this object, whose ``on_delivery`` it uses);
        again after the producer was replaced (the sink targets keep their lists)."""
        self._producer = producer
        self._produce = producer.produce
        self._poll = producer.poll
        for target in self._targets.values():
            target.produce_all = compile_produce_all(self._produce, target.topic,
                                                     *target.serdes)
        for compiled, compile_ in ((self._changelog_batches, compile_changelog_all),
                                   (self._changelog_pairs, compile_changelog_pairs)):
            for cache_key, (topic, serdes, _old) in list(compiled.items()):
                compiled[cache_key] = (topic, serdes, compile_(self._produce, topic, *serdes))

    # -- delivery reports -------------------------------------------------------------------
    def on_delivery(self, err: KafkaError | None, msg: Any) -> None:
        """librdkafka's delivery report; with ``delivery.report.only.error`` only failures.
        Records purged by an aborted transaction are no failure: the stream thread aborts
        on purpose (never calling ``purge`` otherwise), and they are processed again."""
        if err is None or err.code() in _PURGED:
            return
        where = f"topic {msg.topic()!r} partition {msg.partition()}"
        exc = ProductionException(f"failed to produce a record to {where}: {err.str()}")
        self._handle(exc, msg.topic(), msg.key(), msg.value())

    def _handle(self, exc: Exception, topic: str, key: Any, value: Any) -> None:
        handler = self._handler
        decision = handler(exc, topic, key, value) if callable(handler) else handler
        if str(decision).lower() == "continue":
            self._metrics.production_errors += 1
            log.warning("Skipping a record that could not be produced (%s): %s", topic, exc)
            return
        if self.error is None:
            self.error = exc

    def check(self) -> None:
        """Raise the first production error that the handler did not let pass."""
        if self.error is not None:
            error, self.error = self.error, None
            raise error

    # -- sending ----------------------------------------------------------------------------
    def _codecs(self, topic: str, key_serde: Any, value_serde: Any) -> tuple[Any, Any]:
        cache_key = (topic, id(key_serde), id(value_serde))
        pair = self._encoders.get(cache_key)
        if pair is None:
            pair = (encoder(resolve_serde(key_serde, self._key_default), topic),
                    encoder(resolve_serde(value_serde, self._value_default), topic))
            self._encoders[cache_key] = pair
        return pair

    def _produce_slow(self, topic: str, value: Any, key: Any, partition: int, timestamp: int,
                      headers: Any) -> None:
        """Produce when librdkafka's queue is full: serve deliveries until there is room."""
        while True:
            self._poll(0.05)
            try:
                self._produce(topic, value, key, partition, None, None, timestamp, headers)
                return
            except BufferError:
                continue
            except (KafkaException, ValueError, TypeError) as exc:
                self._handle(ProductionException(f"cannot produce to {topic!r}: {exc}"),
                             topic, key, value)
                return

    # -- batched sinks ----------------------------------------------------------------------
    def _target(self, topic: str, key_serde: Any, value_serde: Any) -> _SinkTarget:
        cache_key = (topic, id(key_serde), id(value_serde))
        target = self._targets.get(cache_key)
        if target is None:
            key = resolve_serde(key_serde, self._key_default)
            value = resolve_serde(value_serde, self._value_default)
            target = _SinkTarget(topic, compile_produce_all(self._produce, topic, key, value),
                                 encoder(key, topic), encoder(value, topic), (key, value))
            self._targets[cache_key] = target
        return target

    def sink_inline(self, topic: str, key_serde: Any, value_serde: Any, partitioner: Any,
                    sink_name: str | None) -> tuple[Callable[[tuple], None], tuple] | None:
        """Engine hook: fused code appends ``(key, value, timestamp, headers)`` to a list
        that ``drain()`` produces after the batch (sinks with a partitioner are called)."""
        if partitioner is not None:
            return None
        target = self._target(topic, key_serde, value_serde)
        return target.pending.append, ("key", "value", "timestamp", "headers")

    def sink_process(self, topic: str, key_serde: Any, value_serde: Any, partitioner: Any,
                     sink_name: str | None, ctx: Any) -> Callable[[Any, Any], None]:
        """Engine hook: a sink's ``process``, bound to its topic and serdes."""
        if partitioner is None:
            append = self._target(topic, key_serde, value_serde).pending.append

            def process(key: Any, value: Any) -> None:
                append((key, value, ctx.timestamp, ctx.headers))
            return process

        def process_partitioned(key: Any, value: Any) -> None:
            self.send(topic, key, value, ctx.timestamp, ctx.headers, key_serde, value_serde,
                      partitioner, sink_name)
        return process_partitioned

    def drain(self) -> None:
        """Produce every record the batched sinks collected (called after each batch)."""
        for target in self._targets.values():
            records = target.pending
            if not records:
                continue
            if self.before_produce is not None:
                self.before_produce()
            start = 0
            while True:
                index, exc = target.produce_all(records, start)
                if exc is None:
                    break
                if isinstance(exc, BufferError):
                    self._poll(0.05)  # librdkafka's queue is full: let deliveries drain
                    start = index
                    continue
                self._failed(target, records[index], exc)
                start = index + 1
            records.clear()

    def discard(self) -> None:
        """Drop what the batched sinks collected and did not produce yet (the tasks that
        made it were closed without committing; their input is processed again)."""
        for target in self._targets.values():
            target.pending.clear()

    def _failed(self, target: _SinkTarget, record: tuple, exc: Exception) -> None:
        key, value = record[0], record[1]
        try:
            target.encode_key(key)
            target.encode_value(value)
        except SerializationException as checked:
            self._serialization_failed(checked, target.topic, key, value, None)
            return
        self._handle(ProductionException(f"cannot produce to {target.topic!r}: {exc}"),
                     target.topic, key, value)

    def sink_sender(self, topic: str, key_serde: Any, value_serde: Any, partitioner: Any,
                    sink_name: str | None) -> Callable[[Any, Any, int, Any], None]:
        """A sender bound to one sink's topic and serdes (saves lookups per record)."""
        encode_key, encode_value = self._codecs(topic, key_serde, value_serde)
        produce = self._produce
        slow = self._produce_slow
        fail = self._serialization_failed
        if partitioner is None:
            def send(key: Any, value: Any, timestamp: int, headers: Any) -> None:
                if self.before_produce is not None:
                    self.before_produce()
                try:
                    key_bytes = encode_key(key)
                    value_bytes = encode_value(value)
                except SerializationException as exc:
                    fail(exc, topic, key, value, sink_name)
                    return
                try:
                    produce(topic, value_bytes, key_bytes, PARTITION_ANY, None, None,
                            timestamp, headers)
                except BufferError:
                    slow(topic, value_bytes, key_bytes, PARTITION_ANY, timestamp, headers)
            return send

        def send_partitioned(key: Any, value: Any, timestamp: int, headers: Any) -> None:
            self.send(topic, key, value, timestamp, headers, key_serde, value_serde,
                      partitioner, sink_name)
        return send_partitioned

    def send(self, topic: str, key: Any, value: Any, timestamp: int, headers: Any,
             key_serde: Any, value_serde: Any, partitioner: Any, sink_name: str | None) -> None:
        if self.before_produce is not None:
            self.before_produce()
        encode_key, encode_value = self._codecs(topic, key_serde, value_serde)
        try:
            key_bytes = encode_key(key)
            value_bytes = encode_value(value)
        except SerializationException as exc:
            self._serialization_failed(exc, topic, key, value, sink_name)
            return
        partition = PARTITION_ANY
        if partitioner is not None:
            chosen = partitioner(topic, key, value, self._partition_count(topic))
            if chosen is not None:
                count = self._partition_count(topic)
                if not isinstance(chosen, int) or not 0 <= chosen < count:
                    raise StreamsException(
                        f"the partitioner of {sink_name or 'a sink'} returned {chosen!r} for "
                        f"topic {topic!r}, which has partitions 0..{count - 1}"
                    )
                partition = chosen
        try:
            self._produce(topic, value_bytes, key_bytes, partition, None, None, timestamp,
                          headers)
        except BufferError:
            self._produce_slow(topic, value_bytes, key_bytes, partition, timestamp, headers)

    def send_changelog(self, topic: str, partition: int, key: Any, value: Any, timestamp: int,
                       key_serde: Any, value_serde: Any) -> None:
        """A store change: always to the task's own partition of the changelog topic."""
        if self.before_produce is not None:
            self.before_produce()
        last = self._last_changelog  # a commit sends runs of one store's changes
        if last[0] is topic and last[1] is key_serde and last[2] is value_serde:
            encode_key, encode_value = last[3], last[4]
        else:
            encode_key, encode_value = self._codecs(topic, key_serde, value_serde)
            self._last_changelog = (topic, key_serde, value_serde, encode_key, encode_value)
        key_bytes = encode_key(key)
        value_bytes = encode_value(value)
        try:
            self._produce(topic, value_bytes, key_bytes, partition, None, None, timestamp)
        except BufferError:
            self._produce_slow(topic, value_bytes, key_bytes, partition, timestamp, None)

    def send_changelog_batch(self, topic: str, partition: int, records: list[tuple],
                             key_serde: Any, value_serde: Any) -> None:
        """A commit's changelog records of one store, ``(key, value, timestamp)`` each, to
        the task's partition: one compiled loop (no Python call per record but produce);
        a record that fails there goes through ``send_changelog`` (its errors, its wait
        for room in a full queue), then the loop resumes after it."""
        if self.before_produce is not None and records:
            self.before_produce()
        cache_key = (topic, id(key_serde), id(value_serde))
        entry = self._changelog_batches.get(cache_key)
        if entry is None:
            serdes = (resolve_serde(key_serde, self._key_default),
                      resolve_serde(value_serde, self._value_default))
            entry = (topic, serdes, compile_changelog_all(self._produce, topic, *serdes))
            self._changelog_batches[cache_key] = entry
        send_all = entry[2]
        start = 0
        while True:
            index, exc = send_all(records, partition, start)
            if exc is None:
                return
            key, value, timestamp = records[index]
            self.send_changelog(topic, partition, key, value, timestamp, key_serde,
                                value_serde)
            start = index + 1

    def send_changelog_pairs(self, topic: str, partition: int, items: Any, now: int,
                             key_serde: Any, value_serde: Any) -> None:
        """A commit's changes of one timestamped store, ``(key, (value, timestamp))``
        pairs (None: a tombstone, stamped ``now``), e.g. the ``items()`` of its pending
        dict, to the task's partition in one compiled loop that builds no tuple per record
        (``send_changelog_batch`` takes ready ``(key, value, timestamp)`` records). A record
        that fails there goes through ``send_changelog``, then the loop resumes after it."""
        if self.before_produce is not None and items:
            self.before_produce()
        cache_key = (topic, id(key_serde), id(value_serde))
        entry = self._changelog_pairs.get(cache_key)
        if entry is None:
            serdes = (resolve_serde(key_serde, self._key_default),
                      resolve_serde(value_serde, self._value_default))
            entry = (topic, serdes, compile_changelog_pairs(self._produce, topic, *serdes))
            self._changelog_pairs[cache_key] = entry
        send_all = entry[2]
        start = 0
        while True:
            index, exc = send_all(items, partition, start, now)
            if exc is None:
                return
            key, stored = next(islice(items, index, None))
            value, timestamp = (None, now) if stored is None else stored
            self.send_changelog(topic, partition, key, value, timestamp, key_serde,
                                value_serde)
            start = index + 1

    def _serialization_failed(self, exc: SerializationException, topic: str, key: Any,
                              value: Any, sink_name: str | None) -> None:
        by = f" by {sink_name}" if sink_name else ""
        wrapped = SerializationException(
            f"cannot serialize a record for topic {topic!r}{by}: {exc}. Choose serdes that "
            "handle it (default.key.serde / default.value.serde, Produced, Grouped, "
            "Materialized)"
        )
        handler = self._handler
        decision = handler(wrapped, topic, key, value) if callable(handler) else handler
        if str(decision).lower() == "continue":
            self._metrics.production_errors += 1
            log.warning("Skipping a record that could not be serialized: %s", wrapped)
            return
        raise wrapped from exc

    # -- flushing ---------------------------------------------------------------------------
    def flush(self, timeout: float = 60.0) -> None:
        """Wait until every record sent so far is acknowledged (or failed)."""
        remaining = self._producer.flush(timeout)
        if remaining:
            raise ProductionException(
                f"{remaining} record(s) were not acknowledged by the broker within "
                f"{timeout:g} s; is the broker still reachable?"
            )
        self.check()


class _SinkTarget:
    """Records of one sink topic (and serdes) waiting to be produced after the batch."""

    __slots__ = ("topic", "produce_all", "encode_key", "encode_value", "pending", "serdes")

    def __init__(self, topic: str, produce_all: Any, encode_key: Any, encode_value: Any,
                 serdes: tuple[Any, Any]) -> None:
        self.topic = topic
        self.serdes = serdes
        self.produce_all = produce_all
        self.encode_key = encode_key
        self.encode_value = encode_value
        self.pending: list[tuple] = []


def changelog_decoders(store_builder: Any, topic: str, config: StreamsConfig
                       ) -> tuple[Any, Any]:
    """Decoders of a store's changelog records, matching what ``send_changelog`` wrote."""
    return (decoder(resolve_serde(store_builder.key_serde, config.default_key_serde), topic),
            decoder(resolve_serde(store_builder.value_serde, config.default_value_serde), topic))

