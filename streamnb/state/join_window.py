"""The window store of a stream-stream join: every record of one side, kept for
``before + after + grace`` so the other side can find it (Kafka's join window store with
``retainDuplicates``).

It is a small purpose-built structure rather than a general window store: per key, a list of
``(timestamp, value)`` sorted by timestamp (duplicates kept in arrival order); expired
records are dropped in segment-sized batches, so memory is flat once stream time passes the
retention. Reads never return expired records, whether or not they were swept yet.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from operator import itemgetter
from typing import Any

from ._base import StateStore

_NO_TIME = -(2**63)
_ts_of = itemgetter(0)


def insert_in_order(entries: list[tuple[int, Any]], timestamp: int, value: Any) -> None:
    """Insert an out-of-order record after any records with the same timestamp."""
    entries.insert(bisect_right(entries, timestamp, key=_ts_of), (timestamp, value))


class JoinWindowStore(StateStore):
    """Records of one join side by key; ``fetch(key, t0, t1)`` yields ``(timestamp, value)``."""

    kind = "window"

    def __init__(self, name: str, retention_ms: int, window_size_ms: int) -> None:
        super().__init__(name)
        self.retention_ms = retention_ms
        self.window_size_ms = window_size_ms
        self.segment_interval_ms = max(retention_ms // 2, 1000)
        self.observed_stream_time = _NO_TIME
        # key -> [(timestamp, value), ...] sorted by timestamp (join nodes read it directly).
        self.data: dict[Any, list[tuple[int, Any]]] = {}
        self._next_sweep = _NO_TIME
        self._seq = 0

    def put(self, key: Any, value: Any, timestamp: int) -> None:
        """Keep ``value`` unless it is None or already older than the retention."""
        if value is None:
            return  # a join store retains duplicates: there is nothing to delete
        if timestamp > self.observed_stream_time:
            self.observed_stream_time = timestamp
            if timestamp >= self._next_sweep:
                self._sweep()
        elif timestamp <= self.observed_stream_time - self.retention_ms:
            return  # "Skipping record for expired segment."
        entries = self.data.get(key)
        if entries is None:
            self.data[key] = [(timestamp, value)]
        elif entries[-1][0] <= timestamp:
            entries.append((timestamp, value))
        else:
            insert_in_order(entries, timestamp, value)
        if self._change_logger is not None:
            self._seq += 1
            self._change_logger((key, timestamp, self._seq), value)

    def fetch(self, key: Any, time_from: int, time_to: int) -> Iterator[tuple[int, Any]]:
        """Records of ``key`` with ``time_from <= timestamp <= time_to``, oldest first."""
        entries = self.data.get(key)
        if not entries:
            return iter(())
        low = self.observed_stream_time - self.retention_ms + 1
        if time_from < low:
            time_from = low
        if time_from > time_to:
            return iter(())
        start = bisect_left(entries, time_from, key=_ts_of)
        end = bisect_right(entries, time_to, key=_ts_of)
        return iter(entries[start:end])

    def _sweep(self) -> None:
        """Drop expired records; runs once per segment interval of stream time, so its cost
        (one look at each live key) is spread over a segment's worth of records."""
        self._next_sweep = self.observed_stream_time + self.segment_interval_ms
        cutoff = self.observed_stream_time - self.retention_ms  # records <= cutoff expired
        data = self.data
        dead = []
        for key, entries in data.items():
            if entries[0][0] > cutoff:
                continue
            if entries[-1][0] <= cutoff:
                dead.append(key)
                continue
            drop = 1
            while entries[drop][0] <= cutoff:
                drop += 1
            del entries[:drop]
        for key in dead:
            del data[key]

    def all(self) -> Iterator[tuple[Any, int, Any]]:
        """Every live record as ``(key, timestamp, value)`` (for inspection)."""
        low = self.observed_stream_time - self.retention_ms + 1
        for key, entries in self.data.items():
            for ts, value in entries:
                if ts >= low:
                    yield key, ts, value

    def approximate_num_entries(self) -> int:
        """Records held, swept or not yet swept (the store's memory footprint)."""
        return sum(len(entries) for entries in self.data.values())

    def _restore(self, key: Any, value: Any) -> None:
        """Apply a changelog record ``((key, timestamp, seq), value)``."""
        logger, self._change_logger = self._change_logger, None
        try:
            self.put(key[0], value, key[1])
        finally:
            self._change_logger = logger


class OuterJoinStore(StateStore):
    """The "outer shared" store of a left/outer stream-stream join: records that found no
    partner yet, waiting for their window to close.

    Entries are keyed by ``(timestamp, side, key)`` (side 0 = left, 1 = right) and hold the
    list of values seen for that key and time. ``ordered()`` visits them as Kafka does:
    by timestamp, left before right; within one timestamp and side in arrival order (Kafka
    orders those by serialized key bytes).
    """

    kind = "key_value"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._values: dict[tuple[int, int, Any], list[Any]] = {}
        self._order: list[tuple[int, int, int, Any]] = []  # sorted (ts, side, seq, key)
        self._seq = 0

    def add(self, timestamp: int, side: int, key: Any, value: Any) -> None:
        slot = (timestamp, side, key)
        values = self._values.get(slot)
        if values is not None:
            values.append(value)
            return
        self._values[slot] = [value]
        self._seq += 1
        entry = (timestamp, side, self._seq, key)
        order = self._order
        if not order or order[-1] < entry:
            order.append(entry)
        else:
            order.insert(bisect_right(order, entry), entry)
        logger = self._change_logger
        if logger is not None:
            logger(slot, self._values[slot])

    def remove(self, timestamp: int, side: int, key: Any) -> None:
        """Forget a record that found a partner (its null-joined result must never appear)."""
        if self._values.pop((timestamp, side, key), None) is not None:
            logger = self._change_logger
            if logger is not None:
                logger((timestamp, side, key), None)

    def ordered(self) -> list[tuple[int, int, int, Any]]:
        """The entry index, in emission order (may hold removed slots: check ``values``)."""
        return self._order

    def values(self, timestamp: int, side: int, key: Any) -> list[Any] | None:
        return self._values.get((timestamp, side, key))

    def compact(self, keep: list[tuple[int, int, int, Any]]) -> None:
        """Replace the index after an emission pass (``keep`` is still sorted)."""
        self._order = keep

    def get(self, slot: tuple[int, int, Any]) -> list[Any] | None:
        return self._values.get(slot)

    def all(self) -> Iterator[tuple[tuple[int, int, Any], list[Any]]]:
        for ts, side, _seq, key in self._order:
            values = self._values.get((ts, side, key))
            if values is not None:
                yield (ts, side, key), values

    def approximate_num_entries(self) -> int:
        return len(self._values)

    def _restore(self, slot: Any, values: Any) -> None:
        if values is None:
            self._values.pop(tuple(slot), None)
            return
        ts, side, key = slot
        for value in values:
            self.add(ts, side, key, value)
