"""Produce records into a topic and read a topic back: what a user does next to a running app.

Why here and not in the notebook layer: these are Kafka clients (confluent-kafka), like the
rest of the runtime, and they are useful outside Jupyter too. A *target* says where the
topic lives and which serdes to use by default:

- a ``KafkaStreams`` (its broker, its client settings, its ``default.*.serde``),
- a ``"host:port,..."`` bootstrap string (JSON serdes unless given),
- ``None``: the process's embedded broker (started if needed), as apps without
  ``bootstrap.servers`` use.

Records to produce may be a pandas DataFrame (columns ``value`` and optionally ``key`` and
``timestamp``), a mapping ``{key: value}``, or an iterable whose items are ``(key, value)``
or ``(key, value, timestamp)`` tuples or bare values (no key). Timestamps are epoch
milliseconds or datetimes.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer
from confluent_kafka import TopicPartition as _TopicPartition

from ..broker import MissingSourceTopicException, describe_partitions, ensure_topics
from ..errors import SerializationException, StreamsException
from ..serde import Serde, Serdes, serde_from_config
from .codecs import decoder, encoder

__all__ = ["produce", "tail", "tail_frame", "records_frame", "TopicProducer", "TopicTail",
           "TailRecord", "TAIL_COLUMNS"]

_LOG = logging.getLogger("streamnb.clients")
_DEFAULT_PARTITIONS = 1  # the embedded broker's default (streamnb.embedded.topic.partitions)
TAIL_COLUMNS = ["key", "value", "timestamp", "partition", "offset"]


class _Where:
    """Bootstrap address, client settings and default serdes resolved from a target."""

    def __init__(self, target: Any, config: Mapping[str, Any] | None) -> None:
        self.embedded = False
        self.producer_conf: dict[str, Any] = {}
        self.consumer_conf: dict[str, Any] = {}
        self.key_serde: Serde = Serdes.JSON()
        self.value_serde: Serde = Serdes.JSON()
        self.partitions = _DEFAULT_PARTITIONS
        if target is None:
            from ..broker import embedded_broker

            self.bootstrap = embedded_broker().bootstrap_servers
            self.embedded = True
        elif isinstance(target, str):
            if not target.strip():
                raise ValueError("an empty bootstrap address: pass 'host:port' or None for "
                                 "the embedded broker")
            self.bootstrap = target.strip()
        elif hasattr(target, "bootstrap_servers") and hasattr(target, "config"):
            streams_config = target.config
            self.bootstrap = target.bootstrap_servers
            self.embedded = getattr(target, "broker", None) is not None
            self.producer_conf = dict(streams_config.producer_config())
            self.consumer_conf = dict(streams_config.consumer_config())
            self.key_serde = streams_config.default_key_serde
            self.value_serde = streams_config.default_value_serde
            self.partitions = int(streams_config["streamnb.embedded.topic.partitions"])
        else:
            raise TypeError(
                f"produce/tail need a KafkaStreams, a 'host:port' bootstrap string or None "
                f"(the embedded broker), got {type(target).__name__}")
        extra = dict(config or {})
        self.producer_conf.update(extra)
        self.consumer_conf.update(extra)

    def serdes(self, key_serde: Any, value_serde: Any) -> tuple[Serde, Serde]:
        key = self.key_serde if key_serde is None else serde_from_config(key_serde, "key_serde")
        value = (self.value_serde if value_serde is None
                 else serde_from_config(value_serde, "value_serde"))
        return key, value

    def admin_conf(self) -> dict[str, Any]:
        return {k: v for k, v in self.producer_conf.items()
                if k.startswith(("security.", "sasl.", "ssl."))}


# -- records in ---------------------------------------------------------------------------
def _epoch_ms(ts: Any, where: str) -> int | None:
    if ts is None:
        return None
    if isinstance(ts, bool):
        raise TypeError(f"{where}: timestamp {ts!r} is a bool; give epoch ms or a datetime")
    if isinstance(ts, int):
        ms = ts
    elif isinstance(ts, datetime):  # pandas Timestamp is a datetime too
        ms = int(ts.timestamp() * 1000)
    elif hasattr(ts, "astype") and "datetime64" in str(getattr(ts, "dtype", "")):
        ms = int(ts.astype("datetime64[ms]").astype("int64"))
    elif isinstance(ts, float) and ts.is_integer():
        ms = int(ts)
    else:
        raise TypeError(f"{where}: timestamp {ts!r} must be epoch milliseconds (int) or a "
                        "datetime")
    if ms <= 0:
        raise ValueError(f"{where}: timestamp {ms} must be > 0 (Kafka clients read 0 as "
                         "'now' and reject negatives)")
    return ms


def _frame_rows(frame: Any) -> Iterator[tuple[Any, Any, int | None]]:
    columns = [str(c) for c in frame.columns]
    if "value" not in columns:
        raise ValueError(
            f"a DataFrame to produce needs a 'value' column (optional: 'key', 'timestamp'); "
            f"it has {columns}. To send each row as one JSON object: "
            "produce(..., frame.to_dict('records'))")
    extra = sorted(set(columns) - {"key", "value", "timestamp"})
    if extra:
        raise ValueError(
            f"DataFrame columns {extra} would not be sent: only 'key', 'value' and "
            "'timestamp' are used. Drop them, or put them into the value first")
    keys = frame["key"].tolist() if "key" in columns else None
    values = frame["value"].tolist()
    stamps = None
    if "timestamp" in columns:
        column = frame["timestamp"]
        if "datetime64" in str(column.dtype):
            stamps = [None if t != t else int(t.timestamp() * 1000)  # NaT != NaT
                      for t in column.tolist()]
        else:
            stamps = column.tolist()
    for i, value in enumerate(values):
        yield (None if keys is None else keys[i]), value, (None if stamps is None
                                                           else stamps[i])


def _records(records: Any) -> Iterator[tuple[Any, Any, Any]]:
    """Normalize every accepted record shape to (key, value, timestamp-or-None)."""
    if isinstance(records, (str, bytes)):
        yield None, records, None
        return
    if hasattr(records, "columns") and hasattr(records, "itertuples"):
        yield from _frame_rows(records)
        return
    if isinstance(records, Mapping):
        for key, value in records.items():
            yield key, value, None
        return
    if not isinstance(records, Iterable):
        raise TypeError(
            f"records must be a DataFrame, a mapping {{key: value}}, or an iterable of values "
            f"or (key, value[, timestamp]) tuples; got {type(records).__name__}")
    for item in records:
        if type(item) is tuple:
            if len(item) == 2:
                yield item[0], item[1], None
            elif len(item) == 3:
                yield item
            else:
                raise ValueError(
                    f"a tuple record is (key, value) or (key, value, timestamp); got "
                    f"{len(item)} items: {item!r:.80}. Send a list to produce it as one value")
        else:
            yield None, item, None


# -- producing ----------------------------------------------------------------------------
class TopicProducer:
    """A reusable producer for a target: ``send`` many times, ``flush`` or ``close`` once.

    Missing topics are created on the embedded broker (or with ``partitions=`` given);
    on another cluster a missing topic is an error, as writing to a misspelt topic should be.
    """

    def __init__(self, target: Any = None, *, config: Mapping[str, Any] | None = None,
                 linger_ms: int = 5) -> None:
        self.where = _Where(target, config)
        # Kafka's default partitioner (murmur2), as the stream threads use: a keyed record
        # written here lands on the partition a repartition or join expects for its key.
        conf: dict[str, Any] = {"linger.ms": linger_ms, "logger": _LOG,
                                "partitioner": "murmur2_random"}
        conf.update(self.where.producer_conf)
        conf["bootstrap.servers"] = self.where.bootstrap
        self._producer = Producer(conf)
        self._known: set[str] = set()
        self._failed = 0
        self._first_error: Any = None
        self.sent = 0

    @property
    def bootstrap_servers(self) -> str:
        return self.where.bootstrap

    def _on_delivery(self, err: Any, msg: Any) -> None:
        if err is not None:
            self._failed += 1
            if self._first_error is None:
                self._first_error = f"{err.str() if hasattr(err, 'str') else err} " \
                                    f"(topic {msg.topic()!r})"

    def ensure_topic(self, topic: str, partitions: int | None = None) -> int:
        """Make sure ``topic`` exists; return its partition count."""
        if not isinstance(topic, str) or not topic:
            raise ValueError(f"topic must be a non-empty string, got {topic!r}")
        admin = self.where.admin_conf()
        counts = describe_partitions(self.where.bootstrap, [topic], client_config=admin)
        if topic in counts:
            self._known.add(topic)
            return counts[topic]
        if partitions is None and not self.where.embedded:
            raise MissingSourceTopicException(
                f"topic {topic!r} does not exist on {self.where.bootstrap}: create it first, "
                f"pass partitions=N to create it here, or check the name")
        wanted = partitions or self.where.partitions
        counts = ensure_topics(self.where.bootstrap, {topic: wanted}, client_config=admin)
        self._known.add(topic)
        return counts[topic]

    def send(self, topic: str, records: Any, *, key_serde: Any = None, value_serde: Any = None,
             partitions: int | None = None) -> int:
        """Queue ``records`` for ``topic`` (see the module docstring for the shapes);
        return how many. Serialization errors raise before anything of them is lost."""
        if topic not in self._known:
            self.ensure_topic(topic, partitions)
        kser, vser = self.where.serdes(key_serde, value_serde)
        enc_key, enc_value = encoder(kser, topic), encoder(vser, topic)
        produce, poll, on_delivery = self._producer.produce, self._producer.poll, \
            self._on_delivery
        count = 0
        for key, value, ts in _records(records):
            key_bytes = None if key is None else enc_key(key)
            value_bytes = None if value is None else enc_value(value)
            stamp = 0 if ts is None else _epoch_ms(ts, f"record {count} for {topic!r}")
            while True:
                try:
                    produce(topic, value_bytes, key_bytes, timestamp=stamp,
                            on_delivery=on_delivery)
                    break
                except BufferError:  # the local queue is full: let deliveries drain
                    poll(0.05)
            count += 1
        poll(0)
        self.sent += count
        return count

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until every queued record is delivered; raise if any was not."""
        left = self._producer.flush(timeout)
        if left:
            raise TimeoutError(f"{left} record(s) not delivered to {self.where.bootstrap} "
                               f"within {timeout:g} s: is the broker up?")
        if self._failed:
            failed, self._failed, first = self._failed, 0, self._first_error
            self._first_error = None
            raise StreamsException(f"{failed} record(s) were not delivered; first error: "
                                   f"{first}")

    def close(self, timeout: float = 30.0) -> None:
        self.flush(timeout)

    def __enter__(self) -> TopicProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()


def produce(target: Any, topic: str, records: Any, key_serde: Any = None,
            value_serde: Any = None, *, partitions: int | None = None,
            config: Mapping[str, Any] | None = None, timeout: float = 30.0) -> int:
    """Produce ``records`` into ``topic`` and wait until the broker has them all.

    ``target``: a KafkaStreams, a bootstrap string, or None (the embedded broker).
    ``key_serde``/``value_serde``: a Serde or a name ('string', 'json', 'long', ...);
    default: the app's default serdes, else JSON. Returns the number of records.
    """
    producer = TopicProducer(target, config=config)
    count = producer.send(topic, records, key_serde=key_serde, value_serde=value_serde,
                          partitions=partitions)
    producer.flush(timeout)
    return count


# -- tailing ------------------------------------------------------------------------------
class TailRecord(NamedTuple):
    """One record read from a topic."""

    key: Any
    value: Any
    timestamp: int
    partition: int
    offset: int


class TopicTail:
    """A consumer of every partition of ``topic`` from its end (new records only) or its
    beginning; it joins no consumer group and commits nothing, so it never disturbs apps."""

    def __init__(self, target: Any, topic: str, *, from_beginning: bool = False,
                 last: int | None = None, key_serde: Any = None, value_serde: Any = None,
                 config: Mapping[str, Any] | None = None, timeout: float = 10.0) -> None:
        if last is not None and (from_beginning or last < 0):
            raise ValueError(f"last={last!r}: give a count >= 0 of records to start before "
                             "the end, and not together with from_beginning")
        self.where = _Where(target, config)
        self.topic = topic
        kser, vser = self.where.serdes(key_serde, value_serde)
        self._key_serde, self._value_serde = kser, vser
        self._dkey, self._dvalue = decoder(kser, topic), decoder(vser, topic)
        counts = describe_partitions(self.where.bootstrap, [topic],
                                     client_config=self.where.admin_conf(), timeout=timeout)
        if topic not in counts:
            raise MissingSourceTopicException(
                f"topic {topic!r} does not exist on {self.where.bootstrap}: check the name "
                "(an app creates its output topics when it starts)")
        conf: dict[str, Any] = {"group.id": f"streamnb-tail-{uuid.uuid4().hex[:10]}",
                                "enable.auto.commit": False, "logger": _LOG,
                                "enable.partition.eof": False}
        conf.update(self.where.consumer_conf)
        conf["bootstrap.servers"] = self.where.bootstrap
        self._consumer = Consumer(conf)
        self.partitions = [_TopicPartition(topic, p, OFFSET_BEGINNING)
                           for p in range(counts[topic])]
        if not from_beginning:
            # The end as of now, not as of the first fetch: a record produced right after
            # this constructor returns must be seen. ``last`` starts that many records
            # earlier in each partition, as ``tail -n`` does.
            marks = self._watermarks(timeout)
            back = last or 0
            self.partitions = [_TopicPartition(topic, p, max(low, high - back))
                               for p, (low, high) in sorted(marks.items())]
        self._consumer.assign(self.partitions)
        self.seen = 0
        self._closed = False

    def _decode(self, msg: Any) -> TailRecord:
        try:
            key = self._dkey(msg.key())
            value = self._dvalue(msg.value())
        except SerializationException as exc:
            raise SerializationException(
                f"{exc} (topic {self.topic!r} partition {msg.partition()} offset "
                f"{msg.offset()}); pass key_serde=/value_serde= matching what was written "
                f"(now {self._key_serde.name} / {self._value_serde.name})") from exc
        return TailRecord(key, value, msg.timestamp()[1], msg.partition(), msg.offset())

    def poll(self, timeout: float = 0.5, max_records: int = 1000) -> list[TailRecord]:
        """The records that arrived (up to ``max_records``), waiting at most ``timeout`` s."""
        if self._closed:
            raise RuntimeError(f"the tail of {self.topic!r} is closed")
        msgs = self._consumer.consume(max_records, timeout)
        out = []
        for msg in msgs:
            err = msg.error()
            if err is not None:
                if err.fatal() or not err.retriable():
                    raise KafkaException(err)
                continue
            out.append(self._decode(msg))
        self.seen += len(out)
        return out

    def _watermarks(self, timeout: float) -> dict[int, tuple[int, int]]:
        return {tp.partition: self._consumer.get_watermark_offsets(
                    _TopicPartition(self.topic, tp.partition), timeout=timeout)
                for tp in self.partitions}

    def end_offsets(self, timeout: float = 10.0) -> dict[int, int]:
        """Each partition's current end (high watermark)."""
        return {p: high for p, (_low, high) in self._watermarks(timeout).items()}

    def read_to_end(self, timeout: float = 10.0, max_records: int | None = None,
                    idle: float = 1.0) -> list[TailRecord]:
        """Everything up to the ends as of this call (or ``max_records``). Stops early after
        ``idle`` s without records (transaction markers can keep a position short of the
        end) and at ``timeout``."""
        ends = self.end_offsets(timeout)
        out: list[TailRecord] = []
        deadline = time.monotonic() + timeout
        last_data = time.monotonic()
        pending = {p for p, end in ends.items() if end > 0}
        while pending and time.monotonic() < deadline:
            if max_records is not None and len(out) >= max_records:
                break
            batch = self.poll(0.2, 1000 if max_records is None
                              else min(1000, max_records - len(out)))
            now = time.monotonic()
            if batch:
                out.extend(batch)
                last_data = now
            elif now - last_data > idle:
                break
            positions = self._consumer.position([_TopicPartition(self.topic, p)
                                                 for p in pending])
            pending = {tp.partition for tp in positions
                       if tp.offset < 0 or tp.offset < ends[tp.partition]}
        return out

    def __iter__(self) -> Iterator[TailRecord]:
        while not self._closed:
            yield from self.poll()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._consumer.close()

    def __enter__(self) -> TopicTail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def tail(target: Any, topic: str, *, from_beginning: bool = False,
         max_records: int | None = None, timeout: float | None = None,
         key_serde: Any = None, value_serde: Any = None,
         config: Mapping[str, Any] | None = None) -> Iterator[TailRecord]:
    """Yield ``topic``'s records as they arrive (from its end, or ``from_beginning``) until
    ``max_records`` were yielded or ``timeout`` seconds passed (None: forever)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    with TopicTail(target, topic, from_beginning=from_beginning, key_serde=key_serde,
                   value_serde=value_serde, config=config) as consumer:
        count = 0
        while deadline is None or time.monotonic() < deadline:
            wait = 0.5 if deadline is None else max(0.0, min(0.5, deadline - time.monotonic()))
            want = 1000 if max_records is None else max_records - count
            for record in consumer.poll(wait, min(1000, want)):
                yield record
                count += 1
            if max_records is not None and count >= max_records:
                return


def records_frame(records: Iterable[TailRecord]) -> Any:
    """Tailed records as a DataFrame: key, value, timestamp (UTC), partition, offset."""
    import pandas as pd

    rows = list(records)
    return pd.DataFrame({
        # object columns: keys and values keep their Python types (None stays None)
        "key": pd.Series([r.key for r in rows], dtype=object),
        "value": pd.Series([r.value for r in rows], dtype=object),
        "timestamp": pd.to_datetime([r.timestamp for r in rows], unit="ms", utc=True),
        "partition": pd.Series([r.partition for r in rows], dtype="int64"),
        "offset": pd.Series([r.offset for r in rows], dtype="int64"),
    }, columns=TAIL_COLUMNS)


def tail_frame(target: Any, topic: str, *, from_beginning: bool = True,
               max_records: int | None = None, timeout: float = 10.0,
               key_serde: Any = None, value_serde: Any = None,
               config: Mapping[str, Any] | None = None) -> Any:
    """``topic`` as a DataFrame: from the beginning up to its current end (default), or,
    with ``from_beginning=False``, what arrives within ``timeout`` seconds."""
    with TopicTail(target, topic, from_beginning=from_beginning, key_serde=key_serde,
                   value_serde=value_serde, config=config, timeout=timeout) as consumer:
        if from_beginning:
            records = consumer.read_to_end(timeout, max_records)
        else:
            records = list(_within(consumer, timeout, max_records))
    return records_frame(records)


def _within(consumer: TopicTail, seconds: float,
                     max_records: int | None = None) -> Iterator[TailRecord]:
    """What ``consumer`` reads within ``seconds`` (at most ``max_records``)."""
    deadline = time.monotonic() + seconds
    count = 0
    while time.monotonic() < deadline and (max_records is None or count < max_records):
        want = 1000 if max_records is None else min(1000, max_records - count)
        batch = consumer.poll(max(0.0, min(0.2, deadline - time.monotonic())), want)
        count += len(batch)
        yield from batch
