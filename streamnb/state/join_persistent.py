"""Persistent versions of the two join stores that Kafka keeps in RocksDB whenever a join's
stores are persistent: the left/outer stream-stream join's "outer shared" store and the
stream-table join's grace ``<join>-Buffer``.

Both have exactly the interface (and changelog records) of their in-memory counterparts in
``join_window.py``, so the join nodes use either without knowing, and a changelog written by
an in-memory app restores into a persistent one to the same state.

Why the data is mirrored in memory: the join reads these stores on every record (is this
slot parked? which parked records are due?), and both hold only records still inside a
join window or grace period, so a full in-memory copy is small and every read stays a dict
or list access. What persistence adds is the local file: a store reopens its data after a
restart instead of replaying the changelog. Writes are noted in a write-back set or map
(one ``add`` or assignment per write, no key encoding) that reaches the sqlite file - a
``PersistentKeyValueStore`` (sqlitedict's table layout, ``state.dir/<app>/<task>/<store>/
store.sqlite``, its checkpoint file beside it) - in one transaction at each commit. A record
parked and released within one commit interval never touches the file.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from heapq import heapify, heappop, heappush
from pathlib import Path
from typing import Any

from ._base import ClosedStoreData, StateStore
from .join_window import MAX_SEQ, OuterJoinIndex
from .persistent import PersistentKeyValueStore, encode_key

__all__ = ["PersistentOuterJoinStore", "PersistentStreamJoinBuffer"]

_MISSING = object()
#: Distinct rows written between two commits before they go to the file's own write-back
#: map (which writes them to sqlite early): bounds memory in a very long commit interval.
_MAX_PENDING = 100_000


def _row_key(slot: tuple[int, int, Any]) -> str:
    """The text row key of an outer-store slot: equal slots give equal text."""
    return f"{slot[0]}/{slot[1]}/{encode_key(slot[2])}"


class _ClosedPending(ClosedStoreData):
    """A closed store's write-back map or set: any use raises a clear error."""

    __slots__ = ()
    add = discard = ClosedStoreData._fail


class _FileBacked(StateStore):
    """The sqlite side both stores share: open, write back, flush, close, checkpoint.

    ``_pending`` holds what changed since the last commit; ``_drain`` hands it to the file
    (which writes it to sqlite at its flush, or early once it holds many rows)."""

    persistent = True

    def __init__(self, name: str) -> None:
        super().__init__(name)
        # No read cache in the file: the store's own mirror already holds every live row.
        self._file = PersistentKeyValueStore(name, cache_entries=0)
        self._pending: Any = _ClosedPending(self)  # replaced while open

    def init(self, directory: Path | None = None) -> None:
        """Open ``directory/store.sqlite`` (a private temporary one without a directory) and
        load the rows a previous run left there."""
        self._file.init(directory)
        super().init(self._file.directory)
        self._clear()
        rows = self._file.flushed_rows(None, True, None, True, False, -1)
        self._load([entry for _ekey, entry in rows])

    def _clear(self) -> None:
        raise NotImplementedError

    def _load(self, rows: list[tuple[Any, Any]]) -> None:
        raise NotImplementedError

    def _drain(self) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        """Write every change since the last commit in one sqlite transaction."""
        if not self._open:
            return
        if self._pending:
            self._drain()
        self._file.flush()

    def close(self) -> None:
        """Flush and close the file; a later ``init`` on the same directory sees the data."""
        if not self._open:
            return
        try:
            self.flush()
        finally:
            self._file.close()
            self._open = False
            self._clear()
            self._pending = _ClosedPending(self)

    # Checkpoints are the file's (``PersistentKeyValueStore``): written after the data.
    def checkpoint(self, offsets: Mapping[Any, int]) -> None:
        self._file.checkpoint(offsets)

    def read_checkpoint(self) -> dict[Any, int] | None:
        return self._file.read_checkpoint()

    def clear_checkpoint(self) -> None:
        self._file.clear_checkpoint()


class PersistentOuterJoinStore(OuterJoinIndex, _FileBacked):
    """``OuterJoinStore`` kept in a sqlite file: records of a left/outer stream-stream join
    that found no partner yet, keyed by ``(timestamp, side, key)`` with the list of values.

    A row holds ``((timestamp, side, key), arrival number, values)``: the arrival number
    keeps the in-memory store's order of entries with equal timestamp and side across a
    restart. Its row key is text built at the commit (``_row_key``), cheaper than encoding
    the slot tuple. Changelog records are the in-memory store's: ``(ts, side, key) -> (side,
    values)``, a tombstone once the record is matched or emitted. The write-back is the
    set of slots touched since the last commit (one ``set.add`` per write); their rows
    are built at the commit.
    """

    kind = "key_value"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._clear()

    def _clear(self) -> None:
        self._values: dict[tuple[int, int, Any], list[Any]] = {}
        self._seqs: dict[tuple[int, int, Any], int] = {}  # slot -> its arrival number
        self._order: list[tuple[int, int, int, Any]] = []  # sorted (ts, side, seq, key)
        self._seq = 0
        self._on_disk: set[tuple[int, int, Any]] = set()  # slots the file holds (or will)
        if self._open:
            self._pending = set()

    def _load(self, rows: list[tuple[Any, Any]]) -> None:
        order = self._order
        for _row, (slot, seq, values) in rows:
            self._values[slot] = values
            self._seqs[slot] = seq
            self._on_disk.add(slot)
            order.append((slot[0], slot[1], seq, slot[2]))
            if seq > self._seq:
                self._seq = seq
        order.sort()

    def _drain(self) -> None:
        on_disk, values_of, seqs, put = self._on_disk, self._values.get, self._seqs, self._file.put
        for slot in self._pending:
            values = values_of(slot)
            if values is not None:
                put(_row_key(slot), (slot, seqs[slot], values))
                on_disk.add(slot)
            elif slot in on_disk:
                put(_row_key(slot), None)
                on_disk.discard(slot)
            # else: parked and released within one commit - the file never sees it
        self._pending.clear()

    def add(self, timestamp: int, side: int, key: Any, value: Any) -> None:
        slot = (timestamp, side, key)
        values, seq = self._park(slot, value)
        if seq:
            self._seqs[slot] = seq
        pending = self._pending
        pending.add(slot)
        if len(pending) >= _MAX_PENDING:
            self._drain()
        logger = self._change_logger
        if logger is not None:
            logger(slot, (side, values))

    def remove(self, timestamp: int, side: int, key: Any) -> None:
        """Forget a record that found a partner (its null-joined result must never appear)."""
        slot = (timestamp, side, key)
        if self._values.pop(slot, None) is None:
            return
        del self._seqs[slot]
        self._pending.add(slot)
        logger = self._change_logger
        if logger is not None:
            logger(slot, None)

    def all(self) -> Iterator[tuple[tuple[int, int, Any], list[Any]]]:
        values_of, seqs = self._values.get, self._seqs
        for ts, side, seq, key in self._order:
            slot = (ts, side, key)
            values = values_of(slot)
            # A removed and re-added slot has a newer index entry: visit it only there.
            if values is not None and seqs[slot] == seq:
                yield slot, values

    def approximate_num_entries(self) -> int:
        return len(self._values)

    def _restore(self, slot: Any, stored: Any) -> None:
        """Apply a changelog record ``((ts, side, key), (side, values) or None)``."""
        ts, side, key = slot
        logger, self._change_logger = self._change_logger, None
        try:
            self.remove(ts, side, key)
            if stored is not None:
                for value in stored[1]:
                    self.add(ts, side, key, value)
        finally:
            self._change_logger = logger


class PersistentStreamJoinBuffer(_FileBacked):
    """``StreamJoinBuffer`` kept in a sqlite file (Kafka's ``RocksDBTimeOrderedKeyValueBuffer``):
    stream records of a stream-table join with grace wait until stream time has passed them
    by the grace period, then leave in timestamp order (ties in arrival order).

    A row is ``"<timestamp>/<seq>" -> (timestamp, seq, key, value, headers)``, so a
    reopened buffer joins its records with their headers. Changelog records are the
    in-memory buffer's: ``(key, timestamp, seq) -> (value, timestamp)``, a tombstone at
    eviction.
    """

    kind = "key_value"

    def __init__(self, name: str, grace_ms: int) -> None:
        super().__init__(name)
        self.grace_ms = grace_ms
        self._clear()

    def _clear(self) -> None:
        self._heap: list[tuple[int, int, Any, Any, Any]] = []  # (ts, seq, key, value, headers)
        self._live: set[tuple[int, int]] = set()  # (ts, seq) of the records still waiting
        self.seq = 0
        if self._open:
            self._pending = {}  # (ts, seq) -> (ts, seq, key, value, headers), or None

    def _load(self, rows: list[tuple[Any, Any]]) -> None:
        heap = self._heap
        for _row, entry in rows:
            heap.append(entry)
            timestamp, seq = entry[0], entry[1]
            self._live.add((timestamp, seq))
            if seq > self.seq:  # as a restore continues numbering
                self.seq = seq
        heapify(heap)

    def _drain(self) -> None:
        put = self._file.put
        for (timestamp, seq), stored in self._pending.items():
            put(f"{timestamp}/{seq}", stored)
        self._pending.clear()

    def put(self, observed_stream_time: int, key: Any, value: Any, timestamp: int,
            headers: Any = None) -> bool:
        """Buffer a record; False (not buffered) if it is already older than the grace."""
        if observed_stream_time - self.grace_ms > timestamp:
            return False
        self.seq = seq = (self.seq + 1) & MAX_SEQ
        entry = (timestamp, seq, key, value, headers)
        heappush(self._heap, entry)
        row = (timestamp, seq)
        self._live.add(row)
        pending = self._pending
        pending[row] = entry
        if len(pending) >= _MAX_PENDING:
            self._drain()
        logger = self._change_logger
        if logger is not None:
            logger((key, timestamp, seq), (value, timestamp))
        return True

    def evict(self, observed_stream_time: int) -> Iterator[tuple[Any, Any, int, Any]]:
        """Remove and yield ``(key, value, timestamp, headers)`` of every record whose time
        is at most ``observed_stream_time - grace``, oldest first."""
        heap, live, pending = self._heap, self._live, self._pending
        limit = observed_stream_time - self.grace_ms
        while heap and heap[0][0] <= limit:
            timestamp, seq, key, value, headers = heappop(heap)
            row = (timestamp, seq)
            if row not in live:  # tombstoned while restoring
                continue
            live.discard(row)
            # A row put since the last commit is only pending: dropping it is enough.
            if pending.pop(row, _MISSING) is _MISSING:
                pending[row] = None
            logger = self._change_logger
            if logger is not None:
                logger((key, timestamp, seq), None)
            yield key, value, timestamp, headers

    def all(self) -> Iterator[tuple[Any, int, Any]]:
        """Buffered records as ``(key, timestamp, value)``, in eviction order."""
        live = self._live
        for timestamp, seq, key, value, _headers in sorted(self._heap, key=lambda e: e[:2]):
            if (timestamp, seq) in live:
                yield key, timestamp, value

    def approximate_num_entries(self) -> int:
        return len(self._live)

    def _restore(self, key: Any, value: Any) -> None:
        """Apply ``((key, timestamp, seq), (value, timestamp) or None)``: a put is buffered,
        a tombstone forgets its record (one whose put this store never saw - both fell into
        one commit - leaves nothing behind)."""
        record_key, timestamp, seq = key[0], key[1], key[2] if len(key) > 2 else 0
        row = (timestamp, seq)
        if value is None:
            if row in self._live:
                self._live.discard(row)  # its heap entry is skipped at eviction
                if self._pending.pop(row, _MISSING) is _MISSING:
                    self._pending[row] = None
        else:
            entry = (timestamp, seq, record_key, value[0], None)
            heappush(self._heap, entry)
            self._live.add(row)
            self._pending[row] = entry
            if len(self._pending) >= _MAX_PENDING:
                self._drain()
        if seq > self.seq:
            self.seq = seq
