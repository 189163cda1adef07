"""``KTable.suppress``: hold back a table's updates, as Kafka's ``Suppressed``.

* ``Suppressed.until_window_closes(BufferConfig.unbounded())``: one final result per window,
  emitted when stream time passes the window's end plus grace (plus the gap, for sessions).
* ``Suppressed.until_time_limit(d, buffer_config)``: the latest update of a key, at most one
  per ``d`` of stream time after its first buffered update.

The buffer follows Kafka's: keyed by record key, a key keeps the buffer time of its first
buffered update while later updates replace its value; records leave in buffer-time order
(ties by key); a full buffer emits early or stops the app, as configured.
"""

from __future__ import annotations

import heapq
import pickle
from typing import TYPE_CHECKING, Any

from .._time import to_millis
from ..engine.node import Node
from ..errors import StreamsException, TopologyException
from ..state._base import StateStore
from ..state.suppress_changelog import BufferValueSerde, new_entry
from ..topology._naming import validate_name

if TYPE_CHECKING:
    from .ktable import KTable

_UNBOUNDED = 2**63 - 1


class BufferConfig:
    """How much a suppression may buffer, and what happens when it is full."""

    __slots__ = ("max_records_", "max_bytes_", "shutdown_when_full", "logging_enabled",
                 "logging_config")

    def __init__(self, max_records: int = _UNBOUNDED, max_bytes: int = _UNBOUNDED,
                 shutdown_when_full: bool = False) -> None:
        for what, value in (("max_records", max_records), ("max_bytes", max_bytes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{what} must be a positive int, got {value!r}")
        self.max_records_ = max_records
        self.max_bytes_ = max_bytes
        self.shutdown_when_full = shutdown_when_full
        self.logging_enabled = True
        self.logging_config: dict[str, str] = {}

    def _copy(self, **changes: Any) -> BufferConfig:
        config = BufferConfig(self.max_records_, self.max_bytes_, self.shutdown_when_full)
        config.logging_enabled = self.logging_enabled
        config.logging_config = dict(self.logging_config)
        for name, value in changes.items():
            setattr(config, name, value)
        return config

    @staticmethod
    def unbounded() -> BufferConfig:
        """No limit (memory is the limit); a strict config, usable for final results."""
        return BufferConfig(shutdown_when_full=True)

    @staticmethod
    def max_records(records: int) -> BufferConfig:
        """At most ``records`` keys buffered; emits early when full (change with
        ``shut_down_when_full``)."""
        return BufferConfig(max_records=records)

    @staticmethod
    def max_bytes(byte_limit: int) -> BufferConfig:
        """At most ``byte_limit`` bytes buffered (pickled size of key and value - an estimate
        of the serialized size Kafka counts); emits early when full."""
        return BufferConfig(max_bytes=byte_limit)

    def with_max_records(self, records: int) -> BufferConfig:
        BufferConfig(max_records=records)  # validate
        return self._copy(max_records_=records)

    def with_max_bytes(self, byte_limit: int) -> BufferConfig:
        BufferConfig(max_bytes=byte_limit)
        return self._copy(max_bytes_=byte_limit)

    def with_no_bound(self) -> BufferConfig:
        return self._copy(max_records_=_UNBOUNDED, max_bytes_=_UNBOUNDED)

    def emit_early_when_full(self) -> BufferConfig:
        """When full, emit the oldest records before their time (not for final results)."""
        return self._copy(shutdown_when_full=False)

    def shut_down_when_full(self) -> BufferConfig:
        """When full, stop the application with an error rather than emit early."""
        return self._copy(shutdown_when_full=True)

    def with_logging_disabled(self) -> BufferConfig:
        return self._copy(logging_enabled=False)

    def with_logging_enabled(self, config: dict[str, str] | None = None) -> BufferConfig:
        return self._copy(logging_enabled=True, logging_config=dict(config or {}))

    @property
    def is_strict(self) -> bool:
        return self.shutdown_when_full

    def __repr__(self) -> str:
        records = "unbounded" if self.max_records_ == _UNBOUNDED else self.max_records_
        size = "unbounded" if self.max_bytes_ == _UNBOUNDED else self.max_bytes_
        when_full = "shut down" if self.shutdown_when_full else "emit early"
        return f"BufferConfig(max_records={records}, max_bytes={size}, when full: {when_full})"


class Suppressed:
    """What ``KTable.suppress`` holds back and for how long."""

    __slots__ = ("final_results", "time_to_wait_ms", "buffer_config", "name")

    def __init__(self, final_results: bool, time_to_wait_ms: int, buffer_config: BufferConfig,
                 name: str | None = None) -> None:
        if not isinstance(buffer_config, BufferConfig):
            raise TypeError(
                "buffer_config must be a BufferConfig (e.g. BufferConfig.unbounded()), got "
                f"{type(buffer_config).__name__}"
            )
        self.final_results = final_results
        self.time_to_wait_ms = time_to_wait_ms
        self.buffer_config = buffer_config
        self.name = name

    @staticmethod
    def until_window_closes(buffer_config: BufferConfig | None = None) -> Suppressed:
        """Only the final result of each window, when it closes (windowed tables only).

        The buffer must be strict (``BufferConfig.unbounded()`` or ``.shut_down_when_full()``):
        emitting early would not be a final result.
        """
        config = BufferConfig.unbounded() if buffer_config is None else buffer_config
        if isinstance(config, BufferConfig) and not config.is_strict:
            raise ValueError(
                "until_window_closes needs a strict buffer: BufferConfig.unbounded() or a "
                "bounded config with .shut_down_when_full() (emitting early would break the "
                "final-results guarantee)"
            )
        return Suppressed(True, 0, config)

    @staticmethod
    def until_time_limit(time_to_wait_for_more_events: Any,
                         buffer_config: BufferConfig | None = None) -> Suppressed:
        """Emit a key's latest value ``time_to_wait_for_more_events`` (stream time) after its
        first buffered update."""
        millis = to_millis(time_to_wait_for_more_events, "time_to_wait_for_more_events")
        if millis < 0:
            raise ValueError(
                f"time_to_wait_for_more_events must not be negative, got {millis} ms")
        config = BufferConfig.unbounded() if buffer_config is None else buffer_config
        return Suppressed(False, millis, config)

    def with_name(self, name: str) -> Suppressed:
        """Name the suppression node (its buffer store is ``<name>-store``)."""
        return Suppressed(self.final_results, self.time_to_wait_ms, self.buffer_config,
                          validate_name(name, "suppression name"))

    def __repr__(self) -> str:
        what = ("until_window_closes" if self.final_results
                else f"until_time_limit({self.time_to_wait_ms} ms)")
        return f"Suppressed.{what}({self.buffer_config!r})"


# -- the buffer and the node -------------------------------------------------------------------
class SuppressionBuffer(StateStore):
    """The time-ordered buffer of a suppression (Kafka's in-memory change buffer).

    ``get(key)`` / ``all()`` show the buffered (not yet emitted) new values. Its changelog
    carries whole entries (``BufferValueSerde``: prior, old and new value, record context,
    buffer time), so that a restore rebuilds the same buffer and the same emissions.
    """

    kind = "key_value"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        # key -> entry (see state/suppress_changelog.py for its layout)
        self.entries: dict[Any, list[Any]] = {}
        self.heap: list[tuple[int, Any, int, Any]] = []
        self.bytes = 0
        self._seq = 0
        # key -> sequence number of its live heap item; a restored tombstone leaves a stale
        # item in the heap, skipped (never at the head) instead of an O(n) removal
        self._live: dict[Any, int] = {}
        #: set by the node when a byte limit applies: entries restored from the changelog
        #: then get their size computed as the node computes it
        self.count_bytes = False

    def get(self, key: Any) -> Any:
        entry = self.entries.get(key)
        return None if entry is None else entry[1]

    def all(self) -> list[tuple[Any, Any]]:
        return [(key, entry[1]) for key, entry in self.entries.items()]

    def approximate_num_entries(self) -> int:
        return len(self.entries)

    def _order(self, key: Any) -> Any:
        """Tie-break of equal buffer times: by key (Kafka: serialized key bytes)."""
        inner, start = (key.key, key.window.start) if hasattr(key, "window") else (key, 0)
        if isinstance(inner, (str, int, float, bytes)) and not isinstance(inner, bool):
            return (type(inner).__name__, inner, start)
        self._seq += 1
        return ("~", self._seq, start)

    def _add(self, key: Any, entry: list[Any]) -> None:
        self.entries[key] = entry
        order = self._order(key)
        self._seq += 1
        self._live[key] = self._seq
        heapq.heappush(self.heap, (entry[0], order, self._seq, key))

    def _drop_stale_head(self) -> None:
        heap, live = self.heap, self._live
        while heap and live.get(heap[0][3]) != heap[0][2]:
            heapq.heappop(heap)

    def put(self, key: Any, buffer_time: int, new: Any, old: Any, timestamp: int,
            headers: Any, size: int, topic: str | None = None, partition: int = -1,
            offset: int = -1) -> None:
        entry = self.entries.get(key)
        if entry is None:  # the old value is what downstream saw last: the prior value
            entry = new_entry(buffer_time, new, old, old, timestamp, headers, topic, partition,
                              offset, size)
            self._add(key, entry)
        else:  # the buffer time and prior value stay; the rest follows the latest update
            self.bytes -= entry[5]
            entry[1], entry[3], entry[4], entry[5] = new, timestamp, headers, size
            entry[6], entry[7], entry[8], entry[9] = old, topic, partition, offset
        self.bytes += size
        logger = self._change_logger
        if logger is not None:
            logger(key, entry)  # sent at commit as it is then (Kafka: its dirty keys)

    def _restore(self, key: Any, entry: Any) -> None:
        """Apply a changelog record: an entry replaces the key's (keeping its place in the
        eviction order, as a later put would), a tombstone removes it."""
        current = self.entries.get(key)
        if entry is None:
            if current is not None:
                del self.entries[key], self._live[key]
                self.bytes -= current[5]
                if len(self.heap) > 2 * len(self.entries) + 64:
                    live = self._live
                    self.heap = [item for item in self.heap if live.get(item[3]) == item[2]]
                    heapq.heapify(self.heap)
                else:
                    self._drop_stale_head()
            return
        entry = list(entry)
        if self.count_bytes:
            entry[5] = _entry_size(key, entry[1], entry[6])
        if current is None:
            self._add(key, entry)
        else:
            self.bytes -= current[5]
            entry[0] = current[0]
            self.entries[key] = entry
        self.bytes += entry[5]

    def min_time(self) -> int | None:
        return self.heap[0][0] if self.heap else None

    def pop(self) -> tuple[Any, list[Any]]:
        _, _, _, key = heapq.heappop(self.heap)
        entry = self.entries.pop(key)
        del self._live[key]
        if self.heap and len(self.heap) > len(self.entries):
            self._drop_stale_head()
        self.bytes -= entry[5]
        logger = self._change_logger
        if logger is not None:
            logger(key, None)
        return key, entry


def _entry_size(key: Any, new: Any, old: Any) -> int:
    """The byte estimate of a buffered update (pickled key, new and old value)."""
    return len(pickle.dumps((key, new, old), protocol=5))


class SuppressNode(Node):
    """Buffers table updates and forwards them when their time (or the buffer's room) is up."""

    def __init__(self, store_name: str, suppressed: Suppressed, duration_ms: int,
                 final_results: bool) -> None:
        super().__init__()
        self.store_name = store_name
        self.duration_ms = duration_ms
        self.final_results = final_results  # buffer time = window end; drop tombstones
        config = suppressed.buffer_config
        self.max_records = config.max_records_
        self.max_bytes = config.max_bytes_
        self.shutdown_when_full = config.shutdown_when_full
        self.observed_stream_time = -1

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        self.buffer: SuppressionBuffer = ctx.get_store(self.store_name)
        self.buffer.count_bytes = self.max_bytes != _UNBOUNDED

    def process(self, key: Any, change: Any) -> None:
        ctx = self.ctx
        ts = ctx.timestamp
        if ts > self.observed_stream_time:
            self.observed_stream_time = ts
        if self.final_results:
            window = getattr(key, "window", None)
            if window is None:
                raise StreamsException(
                    f"{self.name}: suppress(until_window_closes) got a non-windowed key "
                    f"{key!r}; it only works on windowed tables")
            buffer_time = window.end
        else:
            buffer_time = ts
        new, old = change
        size = _entry_size(key, new, old) if self.max_bytes != _UNBOUNDED else 0
        self.buffer.put(key, buffer_time, new, old, ts, ctx.headers, size, ctx.topic,
                        ctx.partition, ctx.offset)
        self._enforce()

    def _enforce(self) -> None:
        buffer = self.buffer
        expiry = self.observed_stream_time - self.duration_ms
        while buffer.heap and buffer.heap[0][0] <= expiry:
            self._emit(*buffer.pop())
        if len(buffer.entries) > self.max_records or buffer.bytes > self.max_bytes:
            if self.shutdown_when_full:
                raise StreamsException(
                    f"{self.name} buffer exceeded its max capacity. Currently "
                    f"[{len(buffer.entries)}/{self.max_records}] records and "
                    f"[{buffer.bytes}/{self.max_bytes}] bytes.")
            while buffer.heap and (len(buffer.entries) > self.max_records
                                   or buffer.bytes > self.max_bytes):
                self._emit(*buffer.pop())

    def _emit(self, key: Any, entry: list[Any]) -> None:
        new = entry[1]
        if new is None and self.final_results:
            return  # a deleted window has no final result
        ctx = self.ctx  # the buffered update's record context, as Kafka's emit sets it
        saved = ctx.timestamp, ctx.headers, ctx.topic, ctx.partition, ctx.offset
        ctx.timestamp, ctx.headers = entry[3], entry[4]
        ctx.topic, ctx.partition, ctx.offset = entry[7], entry[8], entry[9]
        try:
            self.forward(key, (new, entry[2]))
        finally:
            ctx.timestamp, ctx.headers, ctx.topic, ctx.partition, ctx.offset = saved


# -- DSL ------------------------------------------------------------------------------------
def _grace_of(table: Any) -> int:
    """The time a final result must wait: grace (plus the gap for sessions) of the windowed
    aggregation this table comes from (Kafka's GraphGraceSearchUtil)."""
    from .windows import SessionWindows

    node: Any = table
    chain = []
    while node is not None:
        chain.append(node.name)
        windows = getattr(node, "_windows", None)
        if windows is not None:
            if isinstance(windows, SessionWindows):
                return windows.gap_ms + windows.grace_ms
            return windows.grace_ms
        node = getattr(node, "_parent", None)
    raise TopologyException(
        "Window close time is only defined for windowed computations. Got "
        f"[{' <- '.join(chain)}]: suppress(Suppressed.until_window_closes(...)) needs a table "
        "from a windowed aggregation (group_by_key().windowed_by(...).count() ...); use "
        "Suppressed.until_time_limit(...) for other tables"
    )


def suppress_table(table: KTable, suppressed: Suppressed) -> KTable:
    """Add the suppression node and its buffer store after ``table``."""
    from ..state.builders import StoreBuilder, StoreSupplier
    from ._stateful import TableInfo
    from .ktable import KTable

    if not isinstance(suppressed, Suppressed):
        raise TypeError(
            "suppress takes a Suppressed, e.g. Suppressed.until_window_closes("
            f"BufferConfig.unbounded()), got {type(suppressed).__name__}"
        )
    graph = table._graph
    store_name = table._info.store_name
    if store_name is not None:
        builder = graph.topology.stores.get(store_name)
        if builder is not None and getattr(builder, "kind", None) == "versioned":
            raise TopologyException(
                "Invalid topology: suppress() is only supported for non-versioned KTables")
    if suppressed.final_results:
        duration = _grace_of(table)
    else:
        duration = suppressed.time_to_wait_ms
    if suppressed.name is None:
        name = graph.names.processor_name("KTABLE-SUPPRESS-")
        store = graph.names.store_name("KTABLE-SUPPRESS-")
    else:
        name = suppressed.name
        store = validate_name(f"{suppressed.name}-store", "suppression store name")
    final = suppressed.final_results
    graph.add_processor(name, lambda: SuppressNode(store, suppressed, duration, final),
                        [table._node])
    supplier = StoreSupplier(store, "key_value", lambda: SuppressionBuffer(store),
                             persistent=False)
    builder = StoreBuilder(supplier)
    builder.key_serde = table._key_serde
    # The changelog carries whole buffer entries (prior/old/new value, record context,
    # buffer time) in Kafka's BufferValue layout; the table's serde encodes the values.
    builder.value_serde = BufferValueSerde(table._value_serde)
    config = suppressed.buffer_config
    if config.logging_enabled:
        builder.with_logging_enabled(config.logging_config)
    else:
        builder.with_logging_disabled()
    builder.with_caching_disabled()
    graph.add_store(builder, name)
    return KTable(graph, name, TableInfo(None), parent=table, key_serde=table._key_serde,
                  value_serde=table._value_serde)


__all__ = ["BufferConfig", "Suppressed", "SuppressionBuffer"]
