"""A stream thread: one consumer-group member running the tasks of its partitions.

The consumer group (Kafka's own protocol, range assignor so that equal-numbered partitions
of co-partitioned topics land on one member) decides what this thread owns. On assignment
it builds one engine ``Task`` per (sub-topology, partition), restores the task's stores from
their changelogs, then polls records in batches, deserializes them with the source serdes
and runs them through the tasks. Every ``commit.interval.ms`` it flushes the changelogs and
the producer and commits the input offsets (inside the transaction under exactly-once).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import deque
from itertools import compress, islice
from operator import ne, or_
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from ..engine.task import Task
from ..errors import SerializationException, StreamsException
from ..topology.topology import SourceSpec
from .checkpoints import TaskCheckpoints, end_offsets, start_offsets, wipe_store
from .codecs import compile_decode_run, decoder, resolve_serde
from .fencing import TransactionalIds, new_transactional_producer
from .metrics import ThreadMetrics
from .record_collector import RecordCollector
from .restore import (
    TaskCorrupted,
    load_committed_metadata,
    offset_metadata,
    restore,
    restore_targets,
)

log = logging.getLogger("streamnb.runtime")
KAFKA_LOG = logging.getLogger("streamnb.runtime.kafka")
_PAUSE_GC = True  # see _fetch
# Exactly-once: the loop's commits run their broker round trips beside the next batch
# (see _TxnCommit); False commits in line, as before (bench_e2e.py --inline-commit).
OVERLAP_COMMIT = True

#: Commit errors meaning the group moved on without this member (a rebalance it has not
#: seen yet): Kafka Streams' TaskMigratedException. Not fatal: the tasks are closed dirty
#: and the consumer rejoins; their new owner resumes from the last committed offsets.
_MIGRATED = frozenset({KafkaError.ILLEGAL_GENERATION, KafkaError.UNKNOWN_MEMBER_ID,
                       KafkaError.REBALANCE_IN_PROGRESS, KafkaError.FENCED_INSTANCE_ID})


def _task_migrated(exc: BaseException) -> bool:
    """Whether ``exc`` is a commit failure that means the tasks moved (see _MIGRATED)."""
    if not isinstance(exc, KafkaException) or not exc.args:
        return False
    error = exc.args[0]
    return isinstance(error, KafkaError) and error.code() in _MIGRATED


class DeserializationException(SerializationException):
    """A source record could not be deserialized and the handler said to fail."""


class _Input:
    """One assigned input partition: its task, decoders and progress."""

    __slots__ = ("topic", "partition", "task", "decode_key", "decode_value", "extractor",
                 "offset", "committed", "buffer", "paused", "batch", "decode_run", "position",
                 "tp")

    def __init__(self, topic: str, partition: int, task: Task, decode_key: Any,
                 decode_value: Any, extractor: Any) -> None:
        self.topic = topic
        self.partition = partition
        self.task = task
        self.decode_key = decode_key
        self.decode_value = decode_value
        self.extractor = extractor
        self.offset = -1  # last processed offset
        self.committed = -1  # next offset as last committed
        # The consumer's position when every record fetched so far was processed: past
        # transaction markers, so committing it lets lag reach 0 (Kafka's findOffset).
        self.position = -1
        self.tp = TopicPartition(topic, partition)
        self.buffer: deque[tuple] | None = None  # only for tasks with several inputs
        self.paused = False
        # Fast path: decode a run of messages at once, run it through the task's batch loop.
        self.batch: Any = None
        self.decode_run: Any = None


class _TaskInputs:
    """The inputs of a task reading several partitions: records are buffered and picked
    lowest timestamp first (Kafka's PartitionGroup)."""

    __slots__ = ("task", "inputs", "idle_since")

    def __init__(self, task: Task, inputs: list[_Input]) -> None:
        self.task = task
        self.inputs = inputs
        self.idle_since: float | None = None


class _TxnCommit(threading.Thread):
    """The broker round trips of one exactly-once commit (the offsets into the transaction,
    then its commit), run beside the stream thread: librdkafka's calls release the GIL, so
    the stream thread meanwhile fetches, decodes and processes the next batch, producing
    nothing until this one is done (see ``StreamThread._open_txn``)."""

    def __init__(self, name: str, producer: Producer, offsets: list[TopicPartition],
                 group_metadata: Any, started: float) -> None:
        super().__init__(name=name, daemon=True)
        self.producer = producer
        self.offsets = offsets
        self.group_metadata = group_metadata
        self.started = started
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            _commit_transaction(self.producer, self.offsets, self.group_metadata)
        except BaseException as exc:  # raised on the stream thread by _finish_commit
            self.error = exc


def _commit_transaction(producer: Producer, offsets: list[TopicPartition],
                        group_metadata: Any) -> None:
    if offsets:
        producer.send_offsets_to_transaction(offsets, group_metadata, 30)
    producer.commit_transaction(60)


class StreamThread(threading.Thread):
    """One processing thread of a KafkaStreams client (a daemon: never blocks exit)."""

    # Class defaults (tests build bare instances): no commit in flight; commits wait.
    _committing: _TxnCommit | None = None
    _async_commit = False

    def __init__(self, index: int, client: Any) -> None:
        super().__init__(name=f"{client.client_id}-StreamThread-{index}", daemon=True)
        self.index = index
        self.client = client
        self.config = client.config
        self.topology = client.topology
        self.plan = client.plan
        self.metrics = ThreadMetrics(self.name)
        self.lock = threading.RLock()  # held while processing; queries take it for snapshots
        self.tasks: dict[str, Task] = {}
        # task id -> its persistent stores' checkpoints (checkpoints.py)
        self._checkpoints: dict[str, TaskCheckpoints] = {}
        self._checked_at: tuple[int, int] | None = None  # progress at the last check
        self.state = "CREATED"
        self.error: BaseException | None = None
        self._stop_event = threading.Event()
        self._inputs: dict[tuple[str, int], _Input] = {}
        self._multi: list[_TaskInputs] = []
        self._eos = self.config.exactly_once
        self._in_txn = False
        self._txn_ids: TransactionalIds | None = None
        self._txn_id: str | None = None  # the producer's transactional.id (exactly-once)
        self._consumer: Consumer | None = None
        self._producer: Producer | None = None
        self._restore_consumer: Consumer | None = None
        self.collector: RecordCollector | None = None
        self._source_info = self._sources_by_topic()
        self._subtopology_of = {t: sid for sid, ts in self.plan.sources.items() for t in ts}
        self._groups = {g.id: g for g in self.topology.subtopologies()}

    # -- setup ------------------------------------------------------------------------------
    def _sources_by_topic(self) -> dict[str, tuple[Any, Any, Any]]:
        out = {}
        self._source_serdes: dict[str, tuple[Any, Any]] = {}
        default_extractor = self.config["default.timestamp.extractor"]
        for spec in self.topology.nodes.values():
            if isinstance(spec, SourceSpec) and spec.global_store is None:
                for topic in spec.topics:
                    real = self.client.real_topic(topic)
                    key = resolve_serde(spec.key_serde, self.config.default_key_serde)
                    value = resolve_serde(spec.value_serde, self.config.default_value_serde)
                    self._source_serdes[real] = (key, value)
                    extractor = spec.timestamp_extractor or default_extractor
                    out[real] = (decoder(key, real), decoder(value, real),
                                 extractor if callable(extractor) else None)
        return out

    def _make_clients(self) -> None:
        config = self.config
        client = self.client
        base = {"bootstrap.servers": client.bootstrap_servers, "logger": KAFKA_LOG}
        producer_conf = {
            **base,
            "client.id": f"{self.name}-producer",
            "partitioner": "murmur2_random",  # Kafka's default partitioner
            "linger.ms": 5,
            "batch.num.messages": 10_000,
            "queue.buffering.max.messages": 1_000_000,
            "delivery.report.only.error": True,
            **config.producer_config(),
        }
        self.collector = RecordCollector(config, client.partition_count, self.metrics)
        producer_conf["on_delivery"] = self.collector.on_delivery
        if self._eos:
            producer_conf.setdefault("transaction.timeout.ms", 10_000)
            self._producer_conf = producer_conf
            self._txn_ids = TransactionalIds(
                client.app_dir, f"{config.application_id}-{client.process_id}", self.index)
            self._txn_ids.fence_previous(producer_conf, 30)
            self._producer, self._txn_id = new_transactional_producer(
                self._txn_ids, producer_conf, 30)
        else:
            self._producer = Producer(producer_conf)
        self.collector.bind(self._producer)
        if self._eos:  # the first record produced opens the first transaction
            self.collector.before_produce = self._open_txn
        consumer_conf = {
            **base,
            "group.id": config.application_id,
            "client.id": f"{self.name}-consumer",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest",
            "partition.assignment.strategy": "range",
            "isolation.level": "read_committed" if self._eos else "read_uncommitted",
            "fetch.wait.max.ms": 50,
            **config.consumer_config("main"),
        }
        static_id = consumer_conf.get("group.instance.id")
        if static_id:  # static membership: one id per thread, as Kafka Streams derives it
            consumer_conf["group.instance.id"] = f"{static_id}-{self.index}"
        self._consumer = Consumer(consumer_conf)
        restore_conf = {
            **base,
            "group.id": f"{config.application_id}-restore",
            "client.id": f"{self.name}-restore-consumer",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            # Restores start at explicit offsets; one that fell out of range must surface
            # (the task is corrupted), not silently restart from the earliest record.
            "auto.offset.reset": "error",
            "isolation.level": "read_committed" if self._eos else "read_uncommitted",
            **config.consumer_config("restore"),
        }
        self._restore_consumer = Consumer(restore_conf)

    # -- thread body ------------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._make_clients()
            self._set_state("STARTING")
            assert self._consumer is not None
            self._consumer.subscribe(self.plan.stream_topics, on_assign=self._on_assign,
                                     on_revoke=self._on_revoke, on_lost=self._on_lost)
            self._loop()
        except BaseException as exc:  # reported to the client's uncaught-exception handler
            self.error = exc
            log.error("stream thread %s failed: %s", self.name, exc, exc_info=exc)
        finally:
            self._shutdown(clean=self.error is None)
            self._set_state("DEAD")
            self.client._thread_died(self, self.error)

    def stop(self) -> None:
        self._stop_event.set()

    def _set_state(self, state: str) -> None:
        self.state = state
        self.client._thread_state_changed(self)

    def _loop(self) -> None:
        consumer = self._consumer
        collector = self.collector
        # No local for the producer: an abort (a lost or migrated task) replaces it.
        assert consumer is not None and self._producer is not None and collector is not None
        batch = max(1, self.config["streamnb.consume.batch.size"])
        poll_s = self.config["poll.ms"] / 1000.0
        interval = self.config["commit.interval.ms"] / 1000.0
        metrics = self.metrics
        stop = self._stop_event
        next_commit = time.monotonic() + interval
        next_lag = 0.0
        consume = consumer.consume
        while not stop.is_set():
            msgs, paused = _fetch(consume, batch, poll_s)
            metrics.poll_total += 1
            try:
                # Under exactly-once the previous commit may still be in flight here: the
                # batch is processed meanwhile, its output waits in the sinks' lists, and
                # the first record produced waits for that commit (collector.before_produce).
                with self.lock:
                    if msgs:
                        self._process(msgs)
                    if self._multi:
                        self._drain_buffers()
                    self._punctuate()
                    collector.drain()
            except KafkaException as exc:  # the background commit failed
                self._tasks_migrated(exc, rejoin=True)
            finally:
                if paused:
                    msgs = None
                    gc.enable()
            if self._committing is None:  # else its commit serves the delivery reports
                self._producer.poll(0)
            collector.check()
            now = time.monotonic()
            if now >= next_commit or self._commit_requested():
                self._note_positions()
                self._async_commit = self._eos and OVERLAP_COMMIT
                try:
                    self.commit()
                except KafkaException as exc:
                    self._tasks_migrated(exc, rejoin=True)
                finally:
                    self._async_commit = False
                # As Kafka's StreamThread: the interval runs from the end of a commit (here
                # from when its round trips were handed to the background).
                next_commit = time.monotonic() + interval
            if now >= next_lag:
                self._refresh_lag()
                next_lag = now + 1.0

    def _commit_requested(self) -> bool:
        return any(task.commit_requested for task in self.tasks.values())

    # -- processing -------------------------------------------------------------------------
    def _process(self, msgs: list[Any]) -> None:
        """Split the batch into runs of one partition and hand each run to its task."""
        started = time.perf_counter()
        if any(map(_error, msgs)):
            processed, last_ts = self._process_with_errors(msgs)
        else:
            inputs = self._inputs
            processed = 0
            last_ts = -1
            # Runs of one topic-partition, found by C loops (no bytecode, no object per
            # record): a run ends where the partition or the topic changes.
            topics = list(map(_topic, msgs))
            partitions = list(map(_partition, msgs))
            size = len(msgs)
            cuts = list(compress(range(1, size), map(
                or_, map(ne, partitions, islice(partitions, 1, None)),
                map(ne, topics, islice(topics, 1, None)))))
            cuts.append(size)
            begin = 0
            for end in cuts:
                n, last_ts = self._run(inputs.get((topics[begin], partitions[begin])),
                                       msgs[begin:end] if end - begin < size else msgs,
                                       last_ts)
                processed += n
                begin = end
        self.collector.drain()
        if processed:
            metrics = self.metrics
            metrics.process_total += processed
            metrics.process_time += time.perf_counter() - started
            if last_ts >= 0:
                metrics.record_e2e(int(time.time() * 1000), last_ts)

    def _process_with_errors(self, msgs: list[Any]) -> tuple[int, int]:
        """``_process`` for a batch holding consumer errors: runs between them, in order."""
        inputs = self._inputs
        processed = 0
        run_start = 0
        run_topic = None
        run_partition = -1
        last_ts = -1
        index = 0
        for msg in msgs:
            if msg.error() is not None:
                if index > run_start:
                    n, last_ts = self._run(inputs.get((run_topic, run_partition)),
                                           msgs[run_start:index], last_ts)
                    processed += n
                self._consumer_error(msg.error())
                run_start = index + 1
                run_topic = None
            else:
                partition = msg.partition()
                topic = msg.topic()
                if partition != run_partition or topic != run_topic:
                    if index > run_start and run_topic is not None:
                        n, last_ts = self._run(inputs.get((run_topic, run_partition)),
                                               msgs[run_start:index], last_ts)
                        processed += n
                    run_start = index
                    run_topic, run_partition = topic, partition
            index += 1
        if index > run_start and run_topic is not None:
            n, last_ts = self._run(inputs.get((run_topic, run_partition)), msgs[run_start:],
                                   last_ts)
            processed += n
        return processed, last_ts

    def _run(self, inp: _Input | None, msgs: list[Any], last_ts: int) -> tuple[int, int]:
        """Process consecutive messages of one partition; returns (count, last timestamp)."""
        if inp is None:  # revoked between fetch and processing
            return 0, last_ts
        if inp.batch is not None:
            try:
                columns = inp.decode_run(msgs)
            except Exception:
                columns = None  # some record is bad: take the checked path for this run
            if columns is not None:
                # An iterator, not a list: zip reuses its tuple when the batch loop unpacks
                # it, so records cost no allocation (and no cyclic-GC work) here.
                inp.batch(zip(*columns))
                inp.offset = columns[4][-1]
                return len(msgs), columns[2][-1]
        return self._run_checked(inp, msgs, last_ts)

    def _run_checked(self, inp: _Input, msgs: list[Any], last_ts: int) -> tuple[int, int]:
        """Record by record, with the deserialization handler and timestamp extractor."""
        topic, partition = inp.topic, inp.partition
        task = inp.task
        process = task.process
        decode_key, decode_value, extractor = inp.decode_key, inp.decode_value, inp.extractor
        buffered = inp.buffer
        processed = 0
        for msg in msgs:
            offset = msg.offset()
            try:
                key = decode_key(msg.key())
                value = decode_value(msg.value())
            except SerializationException as exc:
                self._deserialization_failed(exc, topic, partition, offset)
                inp.offset = offset
                continue
            timestamp = msg.timestamp()[1]
            if extractor is not None:
                timestamp = extractor(key, value, timestamp)
                if not isinstance(timestamp, int) or timestamp < 0:
                    task.ctx.record_dropped(task._sources[topic],
                                            f"invalid extracted timestamp {timestamp!r}")
                    inp.offset = offset
                    continue
            if buffered is not None:
                buffered.append((key, value, timestamp, msg.headers(), offset))
                continue
            process(topic, key, value, timestamp, msg.headers(), partition, offset)
            inp.offset = offset
            last_ts = timestamp
            processed += 1
        return processed, last_ts

    def _drain_buffers(self) -> None:
        """Process buffered records of multi-input tasks, lowest head timestamp first."""
        idle_ms = self.config["max.task.idle.ms"]
        limit = self.config["buffered.records.per.partition"]
        now = time.monotonic()
        processed = 0
        start = time.perf_counter()
        for group in self._multi:
            inputs = group.inputs
            if not any(i.buffer for i in inputs):
                group.idle_since = None
                continue
            while True:
                if not all(i.buffer for i in inputs):
                    if group.idle_since is None:
                        group.idle_since = now
                    if (now - group.idle_since) * 1000 < idle_ms:
                        break
                best = None
                for i in inputs:
                    if i.buffer and (best is None or i.buffer[0][2] < best.buffer[0][2]):
                        best = i
                if best is None:
                    group.idle_since = None
                    break
                key, value, timestamp, headers, offset = best.buffer.popleft()
                group.task.process(best.topic, key, value, timestamp, headers,
                                   best.partition, offset)
                best.offset = offset
                processed += 1
            for i in inputs:  # back-pressure: stop fetching what we cannot process yet
                size = len(i.buffer)
                if size > limit and not i.paused:
                    self._consumer.pause([TopicPartition(i.topic, i.partition)])
                    i.paused = True
                elif size <= limit // 2 and i.paused:
                    self._consumer.resume([TopicPartition(i.topic, i.partition)])
                    i.paused = False
        if processed:
            self.metrics.process_total += processed
            self.metrics.process_time += time.perf_counter() - start

    def _deserialization_failed(self, exc: Exception, topic: str, partition: int,
                                offset: int) -> None:
        handler = self.config["default.deserialization.exception.handler"]
        decision = handler(exc, topic, partition, offset) if callable(handler) else handler
        self.metrics.deserialization_errors += 1
        if str(decision).lower() in ("logandcontinue", "continue"):
            log.warning("Skipping record due to deserialization error. topic=[%s] "
                        "partition=[%d] offset=[%d]: %s", topic, partition, offset, exc)
            return
        raise DeserializationException(
            f"cannot deserialize the record at topic {topic!r} partition {partition} offset "
            f"{offset}: {exc}. Fix the producer or the source serdes (Consumed.with_(...), "
            "default.key.serde / default.value.serde), or set "
            "default.deserialization.exception.handler to 'logAndContinue' to skip such records"
        ) from exc

    def _consumer_error(self, err: KafkaError) -> None:
        if err.fatal():
            raise KafkaException(err)
        code = err.code()
        if code in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.TOPIC_AUTHORIZATION_FAILED):
            raise StreamsException(f"stream thread {self.name}: {err.str()}")
        log.warning("consumer of %s: %s", self.name, err.str())

    def _punctuate(self) -> None:
        now = None
        for task in self.tasks.values():
            if task.stream_punctuations and task.maybe_punctuate_stream_time():
                self.metrics.punctuate_total += 1
            if task.wall_punctuations:
                if now is None:
                    now = int(time.time() * 1000)
                if task.maybe_punctuate_wall_clock(now):
                    self.metrics.punctuate_total += 1
                    if self._eos and not self._in_txn:  # so the next commit logs its changes
                        self._open_txn()

    # -- committing -------------------------------------------------------------------------
    def _note_positions(self) -> None:
        """Record the consumer's positions of inputs whose fetched records are all
        processed (called from the loop only: inside a rebalance callback the consumer may
        already count records it has not returned yet)."""
        inputs = [i for i in self._inputs.values() if not i.buffer]
        if not inputs:
            return
        try:
            positions = self._consumer.position([i.tp for i in inputs])
        except KafkaException as exc:
            log.debug("consumer positions of %s: %s", self.name, exc)
            return
        for inp, tp in zip(inputs, positions, strict=True):
            if tp.error is None and tp.offset > inp.offset:
                inp.position = tp.offset

    def _commit_offsets(self) -> list[TopicPartition]:
        """The offsets to commit: past the last processed record, or the noted position
        when that is further (it skips transaction markers)."""
        offsets = []
        for i in self._inputs.values():
            target = i.offset + 1 if i.offset >= 0 else -1
            if i.position > target:
                target = i.position
            if target > 0 and target > i.committed:
                # Kafka's TopicPartitionMetadata: partition time and processor metadata
                metadata = offset_metadata(i.task)
                offsets.append(TopicPartition(i.topic, i.partition, target) if metadata is None
                               else TopicPartition(i.topic, i.partition, target,
                                                   metadata=metadata))
        return offsets

    def commit(self) -> None:
        """Flush changelogs and output, then commit the processed offsets.

        Only the part that reads stores (changelog records, store flushes) holds ``lock``;
        the broker round trips after it (producer flush and offset commit, or the
        transaction's offsets and commit) run without it, so queries and the dashboard do
        not wait for them. Nothing else processes meanwhile: this thread is the only one
        that changes stores, and it is here."""
        self._finish_commit()  # the previous one, if still in flight
        start = time.perf_counter()
        consumer, producer, collector = self._consumer, self._producer, self.collector
        with self.lock:
            if self._eos and not self._in_txn:
                if not self._commit_offsets():
                    return
                self._open_txn()
            for task in self.tasks.values():
                task.commit()
            collector.drain()
            offsets = self._commit_offsets()
        if self._eos:
            collector.check()
            group_metadata = consumer.consumer_group_metadata() if offsets else None
            # From here on the next record produced must wait for this commit and open
            # the next transaction.
            collector.before_produce = self._open_txn
            if self._async_commit:  # the loop: finished by the next produce or commit
                self._committing = _TxnCommit(f"{self.name}-commit", producer, offsets,
                                              group_metadata, start)
                self._committing.start()
                return
            _commit_transaction(producer, offsets, group_metadata)
            self._in_txn = False
            collector.check()
        else:
            collector.flush()
            if offsets:
                consumer.commit(offsets=offsets, asynchronous=False)
        self._committed(offsets, start)
        if not self._eos:  # Kafka's postCommit: exactly-once checkpoints at close only
            self._maybe_checkpoint(enforce=False)

    def _maybe_checkpoint(self, enforce: bool) -> None:
        """After a commit (its changelog records acknowledged): checkpoint each task whose
        changelogs moved on enough since its last checkpoint, or every task (``enforce``,
        a clean close). Nothing is asked of the broker when nothing was processed."""
        if not getattr(self, "_checkpoints", None):  # none (or a bare test instance)
            return
        metrics = self.metrics
        progress = (metrics.process_total, metrics.punctuate_total)
        if not enforce and progress == self._checked_at:
            return
        self._checked_at = progress
        for task_id, checkpoints in list(self._checkpoints.items()):
            if not checkpoints.entries or task_id not in self.tasks:
                continue
            ends = end_offsets(self._restore_consumer, checkpoints.partitions)
            if ends is None or not checkpoints.needed(ends, enforce):
                continue
            with self.lock:
                checkpoints.write(ends)

    def _committed(self, offsets: list[TopicPartition], start: float) -> None:
        inputs = self._inputs
        for tp in offsets:
            inp = inputs.get((tp.topic, tp.partition))
            if inp is not None:
                inp.committed = tp.offset
        self.metrics.commit_total += 1
        self.metrics.commit_time += time.perf_counter() - start

    def _finish_commit(self) -> None:
        """Wait for the commit in flight, if any; raise what it failed with (the
        transaction then stays marked open, for the abort that follows)."""
        pending = self._committing
        if pending is None:
            return
        self._committing = None
        pending.join()
        if pending.error is not None:
            raise pending.error
        self._in_txn = False
        self.collector.check()
        self._committed(pending.offsets, pending.started)

    def _open_txn(self) -> None:
        """``collector.before_produce`` under exactly-once: let the last commit finish,
        then begin the transaction that the coming records belong to."""
        self._finish_commit()
        if not self._in_txn:
            self._producer.begin_transaction()
            self._in_txn = True
        self.collector.before_produce = None

    def _refresh_lag(self) -> None:
        consumer = self._consumer
        lag = {}
        for (topic, partition), inp in list(self._inputs.items()):
            try:
                _low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition),
                                                            cached=True)
            except KafkaException:
                continue
            if high is None or high < 0:
                continue
            position = inp.committed if inp.committed >= 0 else max(inp.offset + 1, 0)
            lag[(topic, partition)] = max(0, high - position)
        self.metrics.lag = lag

    # -- rebalancing ------------------------------------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        try:
            self.metrics.rebalances += 1
            self._set_state("PARTITIONS_ASSIGNED")
            with self.lock:
                self._create_tasks(partitions)
            if not self._stop_event.is_set():
                self._set_state("RUNNING")
        except BaseException as exc:
            self.error = exc
            self._stop_event.set()
            log.error("stream thread %s: assigning tasks failed: %s", self.name, exc)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        try:
            self._set_state("PARTITIONS_REVOKED")
            if self.error is None:
                try:
                    self.commit()
                except KafkaException as exc:
                    # Inside the rebalance: the consumer is rejoining already.
                    self._tasks_migrated(exc, rejoin=False)
                    return
            with self.lock:
                self._close_tasks(clean=True)
        except BaseException as exc:
            self.error = self.error or exc
            self._stop_event.set()
            log.error("stream thread %s: revoking tasks failed: %s", self.name, exc)
            with self.lock:
                self._close_tasks(clean=False)

    def _tasks_migrated(self, exc: KafkaException, rejoin: bool) -> None:
        """Handle a failed commit (in the loop, in the background, or in the revoke
        callback): raise ``exc`` unless it means the group rebalanced without us (Kafka's
        TaskMigratedException, see _MIGRATED). Then drop the open transaction and close the
        tasks without committing (what they processed since the last commit is processed
        again by their next owner: at-least-once duplicates, never a loss) and, with
        ``rejoin``, leave and rejoin the group, as Kafka's handleTaskMigrated does."""
        if not _task_migrated(exc):
            raise exc
        log.warning("stream thread %s: tasks migrated to another member during a rebalance "
                    "(%s); closing them uncommitted and rejoining the group",
                    self.name, exc.args[0].str())
        with self.lock:
            self._abort()
            self._close_tasks(clean=False)
        if rejoin:
            consumer = self._consumer
            consumer.unsubscribe()
            consumer.subscribe(self.plan.stream_topics, on_assign=self._on_assign,
                               on_revoke=self._on_revoke, on_lost=self._on_lost)

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        with self.lock:
            self._abort()
            self._close_tasks(clean=False)

    def _create_tasks(self, partitions: list[TopicPartition]) -> None:
        by_task: dict[tuple[int, int], list[str]] = {}
        for tp in partitions:
            sid = self._subtopology_of.get(tp.topic)
            if sid is None:
                continue
            by_task.setdefault((sid, tp.partition), []).append(tp.topic)
        starts: dict[str, dict[str, int | None]] = {}
        for sid, partition in sorted(by_task):
            self._open_task(sid, partition, starts)
        self._restore_tasks({f"{sid}_{partition}": (sid, partition)
                             for sid, partition in sorted(by_task)}, starts)
        for (sid, partition), topics in sorted(by_task.items()):
            task = self.tasks[f"{sid}_{partition}"]
            inputs = []
            for topic in topics:
                decode_key, decode_value, extractor = self._source_info[topic]
                inp = _Input(topic, partition, task, decode_key, decode_value, extractor)
                self._inputs[(topic, partition)] = inp
                inputs.append(inp)
            if len(inputs) > 1:
                for inp in inputs:
                    inp.buffer = deque()
                self._multi.append(_TaskInputs(task, inputs))
            else:
                self._enable_batches(inputs[0])
            # processor metadata committed with their input offsets
            load_committed_metadata(self._consumer, task, [
                TopicPartition(t, task.partition) for t in task.source_topics])
        log.info("stream thread %s owns tasks %s", self.name, sorted(self.tasks))

    def _open_task(self, sid: int, partition: int, starts: dict[str, dict[str, int | None]]
                   ) -> str:
        """Build the task ``sid_partition`` on its state directory: persistent stores keep
        the local data a checkpoint vouches for, the rest is wiped (checkpoints.py);
        ``starts[task id]`` gets the offset each logged store resumes restoring from."""
        client = self.client
        task_id = f"{sid}_{partition}"
        task_dir = Path(client.app_dir) / task_id
        group = self._groups[sid]
        sources = self.plan.sources.get(sid, [])
        changelogs = {store: self.plan.changelogs[store] for store in group.stores
                      if store in self.plan.changelogs}
        task_starts = start_offsets(task_dir, changelogs, partition, sources)
        task = Task(task_id, self.topology, group, self.collector, self.config.application_id,
                    self.config.engine_config(), task_dir, _wall_clock, partition,
                    client.global_stores)
        checkpoints = TaskCheckpoints(task, self._eos, sources)
        covered = {tp for _store, tp in checkpoints.entries}
        stray = [name for name, start in task_starts.items() if start is not None
                 and (changelogs[name], partition) not in covered]
        if stray:  # a checkpoint beside data of a store that cannot have one (type changed)
            task.close()
            for name in stray:
                wipe_store(task_dir, name, "this store type keeps no checkpoint")
            return self._open_task(sid, partition, starts)
        checkpoints.started({(changelogs[name], partition): start
                             for name, start in task_starts.items()})
        self.tasks[task_id] = task
        self._checkpoints[task_id] = checkpoints
        starts[task_id] = task_starts
        return task_id

    def _restore_tasks(self, opened: dict[str, tuple[int, int]],
                       starts: dict[str, dict[str, int | None]]) -> None:
        """Restore the stores of the ``opened`` tasks; a task corrupted on the way (its
        checkpointed offset out of the changelog's range) is closed, its stores wiped and
        opened again, and restored from the beginning (Kafka's closeDirtyAndRevive)."""
        timeout = max(self.config["task.timeout.ms"] / 1000.0, 30.0)
        for attempt in range(3):
            targets = []
            for task_id in opened:
                targets.extend(restore_targets(self.tasks[task_id], self.topology, self.config,
                                               starts[task_id]))
            ends: dict[tuple[str, int], int] = {}
            if targets:
                try:
                    self.metrics.restored_records += restore(self._restore_consumer, targets,
                                                             timeout, ends)
                except TaskCorrupted as exc:
                    if attempt == 2:
                        raise
                    for task_id, (sid, partition) in opened.items():
                        task = self.tasks[task_id]
                        bad = [name for name, store in task.stores.items()
                               if (getattr(store, "changelog_topic", None), partition)
                               in exc.partitions]
                        if not bad:
                            continue
                        task.close()
                        for name in bad:
                            wipe_store(Path(self.client.app_dir) / task_id, name,
                                       f"its changelog cannot resume from its checkpoint ({exc})")
                        self._open_task(sid, partition, starts)
                    continue
            for task_id in opened:
                self._checkpoints[task_id].restored(ends)
            return

    def _enable_batches(self, inp: _Input) -> None:
        """Use the engine's generated batch loop when nothing needs per-record care."""
        batch_entry = getattr(inp.task, "batch_entry", None)
        if batch_entry is None or inp.extractor is not None:
            return
        key_serde, value_serde = self._source_serdes[inp.topic]
        inp.decode_run = compile_decode_run(key_serde, value_serde)
        inp.batch = batch_entry(inp.topic, inp.partition,
                                ("key", "value", "timestamp", "headers", "offset"))

    def _close_tasks(self, clean: bool) -> None:
        # A clean close (after a successful commit) checkpoints every task (Kafka's
        # postCommit(true)); never with a transaction open or after a failure.
        if clean and self.error is None and not (self._eos and self._in_txn):
            try:
                self._maybe_checkpoint(enforce=True)
            except Exception as exc:
                log.warning("checkpointing the stores of %s: %s", self.name, exc)
        self._checkpoints = {}
        for task in self.tasks.values():
            try:
                task.close()
            except Exception as exc:
                log.warning("closing task %s: %s", task.task_id, exc)
        self.tasks.clear()
        self._inputs.clear()
        self._multi.clear()

    def _abort(self, renew: bool = True) -> bool:
        """Abort the open transaction; unless shutting down, continue under a fresh
        transactional id (a producer id with an aborted transaction is not safe to keep
        on noida-db, see fencing.py). False if a transaction may still be open."""
        pending = self._committing
        if pending is not None:
            self._committing = None
            pending.join()
            if pending.error is None:
                self._in_txn = False
        if self.collector is not None:
            self.collector.discard()
        if not (self._eos and self._in_txn and self._producer is not None):
            return True
        try:
            self._producer.abort_transaction(30)
        except KafkaException as exc:
            log.warning("aborting the transaction of %s: %s", self.name, exc)
            if not renew:
                return False  # the next start of this thread fences it
            self._txn_ids.fence_previous(self._producer_conf, 30)
        self._in_txn = False
        if renew:
            self._producer, self._txn_id = new_transactional_producer(
                self._txn_ids, self._producer_conf, 30)
            self.collector.bind(self._producer)
            self.collector.before_produce = self._open_txn
        return True

    # -- shutdown ---------------------------------------------------------------------------
    def _shutdown(self, clean: bool) -> None:
        self._set_state("PENDING_SHUTDOWN")
        try:
            if clean and self._consumer is not None:
                try:
                    self.commit()
                except Exception as exc:
                    log.warning("final commit of %s failed: %s", self.name, exc)
                    clean = False
            if not clean and not self._abort(renew=False):
                self._txn_id = None  # left open: not clean, fenced at the next start
            with self.lock:
                self._close_tasks(clean)
        finally:
            for closer in (self._consumer, self._restore_consumer):
                if closer is not None:
                    try:
                        closer.close()
                    except Exception as exc:
                        log.warning("closing a consumer of %s: %s", self.name, exc)
            if self._producer is not None:
                if clean:
                    self._producer.flush(10)
                if self._txn_id is not None and not self._in_txn:
                    self._txn_ids.mark_clean(self._txn_id)
                self._producer = None

    # -- queries ----------------------------------------------------------------------------
    def stores_named(self, name: str) -> list[Any]:
        with self.lock:
            return [task.stores[name] for task in self.tasks.values() if name in task.stores]

    def input_offsets(self, task_id: str) -> dict[str, dict[int, int]]:
        """``{topic: {partition: last processed offset}}`` of one task: the position of its
        stores for interactive queries (read between two batches, under the lock)."""
        with self.lock:
            out: dict[str, dict[int, int]] = {}
            for inp in self._inputs.values():
                if inp.offset >= 0 and inp.task.task_id == task_id:
                    out.setdefault(inp.topic, {})[inp.partition] = inp.offset
            return out

    def input_offsets_by_partition(self) -> list[tuple[str, int]]:
        """The (topic, partition) pairs this thread owns now."""
        with self.lock:
            return list(self._inputs)


_error, _topic, _partition = Message.error, Message.topic, Message.partition


def _fetch(consume: Any, batch: int, poll_s: float) -> tuple[list[Any], bool]:
    """The next batch of messages, and whether the cyclic GC was paused for it (the caller
    enables it again once the batch is processed).

    No cyclic GC while a batch is fetched and runs: its thousands of live messages and
    record tuples would be traversed by a collection every 700 allocations, and those that
    survive two of them reach the oldest generation, whose growth triggers full collections
    that walk every store entry (a 1M-key table: ~0.1 s each, several per second). It is
    all freed by reference counting at the end of the batch, and one collection runs, if
    due, right after. What is fetched already is taken without waiting (consume(n, timeout)
    would wait for n messages until the timeout); only when nothing is there does it block
    for ``poll_s``, with the GC on (other threads may allocate meanwhile)."""
    if not (_PAUSE_GC and gc.isenabled()):
        return consume(batch, 0) or consume(batch, poll_s), False
    gc.disable()
    try:
        msgs = consume(batch, 0)
    except BaseException:
        gc.enable()
        raise
    if msgs:
        return msgs, True
    gc.enable()
    msgs = consume(batch, poll_s)
    if msgs:
        gc.disable()
        return msgs, True
    return msgs, False


def _wall_clock() -> int:
    return int(time.time() * 1000)

