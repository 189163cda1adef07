"""TopologyTestDriver: run a topology synchronously, with no broker, for tests.

It drives the same engine ``Task`` the runtime uses. As Kafka's driver does, it runs the
whole topology as one task ``0_0``; every piped record is processed, punctuated and
committed before ``pipe_input`` returns, and records written to topics the topology reads
(repartition topics, or its own source topics) are fed back in timestamp order.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import deque
from pathlib import Path
from typing import Any

from .._time import to_millis, to_timestamp
from ..engine.task import Task
from ..errors import (
    InvalidStateStoreException,
    NoSuchElementException,
    SerializationException,
    StreamsException,
)
from ..serde import Serde, serde_from_config
from ..topology.topology import SourceSpec, Subtopology, Topology
from ._stores import wrap_store_for_driver
from .records import TestRecord
from .topics import TestInputTopic, TestOutputTopic

DEFAULT_APP_ID = "test-driver-app"


class _Output:
    __slots__ = ("key", "value", "timestamp", "headers", "key_bytes", "value_bytes")

    def __init__(self, key: Any, value: Any, timestamp: int, headers: Any, key_bytes: Any,
                 value_bytes: Any) -> None:
        self.key, self.value, self.timestamp, self.headers = key, value, timestamp, headers
        self.key_bytes, self.value_bytes = key_bytes, value_bytes


class _Collector:
    """The driver's record collector: checks serdes, records output, feeds readers."""

    def __init__(self, driver: TopologyTestDriver) -> None:
        self._driver = driver

    def send(self, topic: str, key: Any, value: Any, timestamp: int, headers: Any,
             key_serde: Any, value_serde: Any, partitioner: Any, sink_name: str | None) -> None:
        self._driver._produce(topic, key, value, timestamp, headers, key_serde, value_serde,
                              sink_name)

    def send_changelog(self, topic: str, partition: int, key: Any, value: Any, timestamp: int,
                       key_serde: Any, value_serde: Any) -> None:
        self._driver._produce(topic, key, value, timestamp, None, key_serde, value_serde, None)


class TopologyTestDriver:
    """Deterministic, synchronous execution of a ``Topology`` for unit tests.

    ``config`` takes Kafka Streams keys (``application.id``, ``default.key.serde``,
    ``default.value.serde``, ``state.dir``...). ``initial_wall_clock_time`` (epoch ms or a
    datetime) starts the mock wall clock that ``advance_wall_clock_time`` moves.
    """

    def __init__(self, topology: Any, config: dict[str, Any] | None = None,
                 initial_wall_clock_time: Any = 0) -> None:
        if hasattr(topology, "build") and not isinstance(topology, Topology):
            raise TypeError(
                "TopologyTestDriver takes a Topology: pass builder.build(), not the builder"
            )
        if not isinstance(topology, Topology):
            raise TypeError(f"TopologyTestDriver takes a Topology, got {type(topology).__name__}")
        topology.validate()
        self.topology = topology
        self.config = dict(config or {})
        self.app_id = str(self.config.get("application.id", DEFAULT_APP_ID))
        self._default_key_serde = serde_from_config(
            self.config.get("default.key.serde", "json"), "default.key.serde")
        self._default_value_serde = serde_from_config(
            self.config.get("default.value.serde", "json"), "default.value.serde")
        self._wall_clock = to_timestamp(initial_wall_clock_time, "initial_wall_clock_time")
        given_dir = self.config.get("state.dir")
        self._own_dir = given_dir is None
        root = Path(given_dir) if given_dir else Path(tempfile.mkdtemp(prefix="streamnb-ttd-"))
        self._state_dir = root / self.app_id
        self._outputs: dict[str, deque[_Output]] = {}
        self._offsets: dict[str, int] = {}
        self._queues: dict[str, deque[tuple]] = {}
        self._closed = False
        collector = _Collector(self)

        groups = topology.subtopologies()
        all_nodes = [n for g in groups for n in g.nodes]
        all_stores = [s for g in groups for s in g.stores]
        merged = Subtopology(0, all_nodes,
                             [t for g in groups for t in g.source_topics],
                             [t for g in groups for t in g.sink_topics], all_stores)
        self._global_task: Task | None = None
        global_stores: dict[str, Any] = {}
        if topology.global_stores:
            global_nodes = [name for name, spec in topology.nodes.items()
                            if spec.global_store is not None]
            global_sub = Subtopology(-1, global_nodes, [], [], list(topology.global_stores))
            self._global_task = Task("global", topology, global_sub, collector, self.app_id,
                                     self.config, self._state_dir / "global",
                                     self._clock, partition=0)
            global_stores = self._global_task.stores
        self._task = Task("0_0", topology, merged, collector, self.app_id, self.config,
                          self._state_dir / "0_0", self._clock, partition=0,
                          global_stores=global_stores)
        self._internal_topics = {self._task.resolve_topic(t) for t in topology.internal_topics}
        self._task_topics = set(self._task.source_topics)
        self._global_topics = set(self._global_task.source_topics) if self._global_task else set()
        self._source_serdes: dict[str, tuple[Any, Any]] = {}
        # Timestamp extractors of user source topics (repartition topics keep record time).
        self._extractors: dict[str, Any] = {}
        default_extractor = self.config.get("default.timestamp.extractor")
        for spec in topology.nodes.values():
            if isinstance(spec, SourceSpec):
                for topic in spec.topics:
                    real = self._task.resolve_topic(topic)
                    self._source_serdes[real] = (spec.key_serde, spec.value_serde)
                    extractor = spec.timestamp_extractor or default_extractor
                    if callable(extractor) and topic not in topology.internal_topics:
                        self._extractors[real] = extractor

    # -- clock ------------------------------------------------------------------------------
    def _clock(self) -> int:
        return self._wall_clock

    def advance_wall_clock_time(self, duration: Any) -> None:
        """Move the mock wall clock; due wall-clock punctuations run, then pending work."""
        self._check_open()
        millis = to_millis(duration, "duration")
        if millis < 0:
            raise ValueError(f"advance_wall_clock_time needs a non-negative duration, got {millis}")
        self._wall_clock += millis
        if self._global_task is not None:
            self._global_task.maybe_punctuate_wall_clock(self._wall_clock)
        self._task.maybe_punctuate_wall_clock(self._wall_clock)
        self._task.commit()
        self._run_queued()

    # -- topics -----------------------------------------------------------------------------
    def create_input_topic(self, name: str, key_serde: Any = None, value_serde: Any = None,
                           start_timestamp: Any = None, auto_advance: Any = 0
                           ) -> TestInputTopic:
        """A topic to pipe records into. Without timestamps, records get ``start_timestamp``
        (default: the driver's wall-clock time) moving on by ``auto_advance`` per record."""
        self._check_open()
        if not isinstance(name, str):
            raise TypeError(f"topic name must be a str, got {type(name).__name__}")
        start = self._wall_clock if start_timestamp is None else to_timestamp(start_timestamp)
        return TestInputTopic(self, name,
                              None if key_serde is None else serde_from_config(key_serde),
                              None if value_serde is None else serde_from_config(value_serde),
                              start, to_millis(auto_advance, "auto_advance"))

    def create_output_topic(self, name: str, key_serde: Any = None, value_serde: Any = None
                            ) -> TestOutputTopic:
        """A topic to read results from. With serdes, records are read back from the bytes
        the topology's serializers wrote (as Kafka's driver does)."""
        self._check_open()
        if not isinstance(name, str):
            raise TypeError(f"topic name must be a str, got {type(name).__name__}")
        return TestOutputTopic(self, name,
                               None if key_serde is None else serde_from_config(key_serde),
                               None if value_serde is None else serde_from_config(value_serde))

    def producedTopicNames(self) -> set[str]:  # noqa: N802 - Kafka's name, kept for porting
        return self.produced_topic_names()

    def produced_topic_names(self) -> set[str]:
        """Every topic the topology has written to so far (changelogs included)."""
        return set(self._outputs)

    # -- piping -----------------------------------------------------------------------------
    def _pipe(self, topic: TestInputTopic, key: Any, value: Any, timestamp: int,
              headers: Any) -> None:
        self._check_open()
        name = topic.name
        if name not in self._task_topics and name not in self._global_topics:
            readable = sorted(self._task_topics | self._global_topics)
            raise ValueError(f"Unknown topic: {name} (the topology reads {readable})")
        if timestamp < 0:
            raise ValueError(f"record timestamp must not be negative, got {timestamp}")
        offset = self._offsets.get(name, 0)
        self._offsets[name] = offset + 1
        source_key_serde, source_value_serde = self._source_serdes.get(name, (None, None))
        key_serde = topic._key_serde or source_key_serde or self._default_key_serde
        value_serde = topic._value_serde or source_value_serde or self._default_value_serde
        where = f"input topic {name!r}, partition 0, offset {offset}"
        self._serialize(key_serde, name, key, "key", where)
        self._serialize(value_serde, name, value, "value", where)
        extractor = self._extractors.get(name)
        if extractor is not None:
            extracted = extractor(key, value, timestamp)
            if isinstance(extracted, bool) or not isinstance(extracted, int) or extracted < 0:
                raise StreamsException(
                    f"the timestamp extractor of topic {name!r} returned {extracted!r} for the "
                    f"record at {where}; it must return epoch milliseconds >= 0"
                )
            timestamp = extracted
        if name in self._global_topics:
            assert self._global_task is not None
            self._global_task.process(name, key, value, timestamp, headers, 0, offset)
            self._global_task.commit()
        if name in self._task_topics:
            self._queue(name).append((key, value, timestamp, headers, offset))
            self._run_queued()

    def _queue(self, topic: str) -> deque[tuple]:
        queue = self._queues.get(topic)
        if queue is None:
            queue = self._queues[topic] = deque()
        return queue

    def _run_queued(self) -> None:
        """Process queued records, lowest head timestamp first (Kafka's PartitionGroup)."""
        task = self._task
        queues = self._queues
        while True:
            best = None
            best_ts = None
            for topic, queue in queues.items():
                if queue and (best_ts is None or queue[0][2] < best_ts):
                    best, best_ts = topic, queue[0][2]
            if best is None:
                return
            key, value, timestamp, headers, offset = queues[best].popleft()
            task.process(best, key, value, timestamp, headers, 0, offset)
            task.maybe_punctuate_stream_time()
            task.commit()

    def _serialize(self, serde: Serde, topic: str, obj: Any, what: str, where: str) -> Any:
        try:
            return serde.serialize(topic, obj)
        except SerializationException as exc:
            raise SerializationException(
                f"cannot serialize the {what} of a record for {where}: {exc}. Choose a serde "
                f"that handles it (default.{what}.serde, Consumed/Produced/Grouped/Materialized)"
            ) from exc

    def _produce(self, topic: str, key: Any, value: Any, timestamp: int, headers: Any,
                 key_serde: Any, value_serde: Any, sink_name: str | None) -> None:
        key_serde = self._resolve(key_serde, self._default_key_serde)
        value_serde = self._resolve(value_serde, self._default_value_serde)
        offset = self._offsets.get(topic, 0)
        self._offsets[topic] = offset + 1
        by = f" by {sink_name}" if sink_name else ""
        where = f"topic {topic!r}{by}, partition 0, offset {offset}"
        key_bytes = self._serialize(key_serde, topic, key, "key", where)
        value_bytes = self._serialize(value_serde, topic, value, "value", where)
        out = self._outputs.get(topic)
        if out is None:
            out = self._outputs[topic] = deque()
        out.append(_Output(key, value, timestamp, headers, key_bytes, value_bytes))
        if topic in self._task_topics or topic in self._global_topics:
            if topic in self._internal_topics:
                # Internal topics round-trip through their serdes, exactly as on a broker.
                key = key_serde.deserialize(topic, key_bytes)
                value = value_serde.deserialize(topic, value_bytes)
            if topic in self._global_topics and self._global_task is not None:
                self._global_task.process(topic, key, value, timestamp, headers, 0, offset)
            if topic in self._task_topics:
                self._queue(topic).append((key, value, timestamp, headers, offset))

    def _resolve(self, serde: Any, default: Serde) -> Any:
        if serde is None:
            return default
        # Wrapper serdes (table changes, windowed keys) fill in the app default they wrap.
        resolve = getattr(serde, "resolve", None)
        return resolve(default) if resolve is not None else serde

    # -- reading ----------------------------------------------------------------------------
    def _read(self, topic: TestOutputTopic) -> TestRecord:
        self._check_open()
        queue = self._outputs.get(topic.name)
        if queue is None:
            raise NoSuchElementException(f"Uninitialized topic: {topic.name}")
        if not queue:
            raise NoSuchElementException(f"Empty topic: {topic.name}")
        out = queue.popleft()
        key, value = out.key, out.value
        if topic._key_serde is not None:
            key = topic._key_serde.deserialize(topic.name, out.key_bytes)
        if topic._value_serde is not None:
            value = topic._value_serde.deserialize(topic.name, out.value_bytes)
        return TestRecord(key, value, out.timestamp, out.headers)

    def _queue_size(self, topic: str) -> int:
        queue = self._outputs.get(topic)
        return 0 if queue is None else len(queue)

    def metrics(self) -> dict[str, Any]:
        """Task metrics: ``dropped-records-total`` (records operators skipped, e.g. a None
        key or value reaching an aggregation) and the same count per reason."""
        dropped = dict(self._task.ctx.dropped)
        if self._global_task is not None:
            for reason, count in self._global_task.ctx.dropped.items():
                dropped[reason] = dropped.get(reason, 0) + count
        return {"dropped-records-total": sum(dropped.values()), "dropped-records": dropped}

    # -- stores -----------------------------------------------------------------------------
    def get_all_state_stores(self) -> dict[str, Any]:
        """Every store of the topology by name (global stores included)."""
        stores = dict(self._task.stores)
        if self._global_task is not None:
            stores.update(self._global_task.stores)
        return stores

    def get_state_store(self, name: str) -> Any:
        """The store ``name`` as the engine holds it (DSL stores keep (value, timestamp))."""
        self._check_open()
        stores = self.get_all_state_stores()
        if name not in stores:
            raise InvalidStateStoreException(
                f"no state store named {name!r} in this topology; its stores are "
                f"{sorted(stores)}. Name a DSL store with materialized=\"...\" to query it."
            )
        return stores[name]

    def _typed_store(self, name: str, kind: str, timestamped_view: bool) -> Any:
        store = self.get_state_store(name)
        return wrap_store_for_driver(store, kind, timestamped_view)

    def get_key_value_store(self, name: str) -> Any:
        """A key-value store; values are plain (a DSL table's timestamps are hidden)."""
        return self._typed_store(name, "key_value", False)

    def get_timestamped_key_value_store(self, name: str) -> Any:
        """A key-value store whose ``get`` returns ``ValueAndTimestamp``."""
        return self._typed_store(name, "key_value", True)

    def get_window_store(self, name: str) -> Any:
        """A window store: ``fetch(key, time_from, time_to)`` yields (window_start, value)."""
        return self._typed_store(name, "window", False)

    def get_timestamped_window_store(self, name: str) -> Any:
        return self._typed_store(name, "window", True)

    def get_session_store(self, name: str) -> Any:
        """A session store: ``fetch(key)`` yields (Windowed, value)."""
        return self._typed_store(name, "session", False)

    def get_versioned_key_value_store(self, name: str) -> Any:
        """A versioned store: ``get(key, as_of_timestamp=None)``."""
        return self._typed_store(name, "versioned", False)

    def query(self, request: Any) -> Any:
        """Interactive Queries v2 on the driver's stores (``streamnb.query``): one partition,
        0, whose position is the input offsets piped so far."""
        self._check_open()
        from ..query.driver import query_driver

        return query_driver(self, request)

    # -- lifecycle --------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise StreamsException("this TopologyTestDriver is closed")

    def close(self) -> None:
        """Close the task and its stores, and delete the driver's temporary state."""
        if self._closed:
            return
        self._closed = True
        try:
            self._task.close()
            if self._global_task is not None:
                self._global_task.close()
        finally:
            if self._own_dir:
                shutil.rmtree(self._state_dir.parent, ignore_errors=True)

    def __enter__(self) -> TopologyTestDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
