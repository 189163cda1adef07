"""The stores of a stream-stream join: each side's window store, and the "outer shared"
store where left/outer joins park records that found no partner yet.

``JoinWindowStore`` is purpose-built rather than a general window store: per key, a list of
``(timestamp, value)`` sorted by timestamp (duplicates kept in arrival order), which the join
node reads and appends to directly (see ``_join_nodes.py``). The two sides of one join share
one dict ``key -> [side 0 list, side 1 list]`` (``share_with``), so a record finds the
partner records it probes and the list it joins in one lookup; each side is still a store of
its own (name, changelog, restore, reads), and a store that shares with nobody keeps its
records at side 0 of its own dict. Expiry follows Kafka's segment
layout: a store holds whole segments of ``max(retention / 2, 60 s)`` of stream time and is
swept once per segment; in between, the join drops a key's expired head when it reads the
key. Reads never return expired records, swept or not, so memory is flat once stream time
passes the retention.

Both stores log to a changelog as Kafka's do (window key ``(key, timestamp, seq)``; outer
key ``(timestamp, side, key)`` with the list of parked values) and restore from it. A join
window store keeps every record (duplicates are retained), so no write replaces another in
the changelog: the store buffers its writes and builds the changelog records (numbering
them) only when the task drains it at commit. The buffer is two lists, the keys and the
``(timestamp, value)`` entries the store keeps, so a write allocates nothing for the
changelog and the drain builds the records in C loops (``zip``/``map``).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from heapq import heappop, heappush
from operator import itemgetter
from typing import Any

from ._base import StateStore

_NO_TIME = -(2**63)
_ts_of = itemgetter(0)
_value_of = itemgetter(1)
#: Kafka's smallest segment of a window store (``RocksDbWindowBytesStoreSupplier``).
MIN_SEGMENT_INTERVAL_MS = 60_000
#: Sequence numbers of duplicate records wrap as Kafka's (a 4-byte int in changelog keys).
MAX_SEQ = 0x7FFFFFFF


def insert_in_order(entries: list[tuple[int, Any]], entry: tuple[int, Any]) -> None:
    """Insert an out-of-order ``(timestamp, value)`` after any records with the same
    timestamp."""
    entries.insert(bisect_right(entries, entry[0], key=_ts_of), entry)


def drop_expired(entries: list[tuple[int, Any]], cutoff: int) -> None:
    """Remove the head of ``entries`` with timestamps ``<= cutoff`` (the list is sorted)."""
    del entries[:bisect_right(entries, cutoff, key=_ts_of)]


def _sweep_both(pairs: dict[Any, list[list[tuple[int, Any]]]], cutoff0: int,
                cutoff1: int) -> None:
    """Drop both sides' records at or before their cutoff; remove keys left empty."""
    dead = []
    for key, (first, second) in pairs.items():
        if first and first[0][0] <= cutoff0:
            if first[-1][0] <= cutoff0:
                first.clear()
            else:
                drop_expired(first, cutoff0)
        if second and second[0][0] <= cutoff1:
            if second[-1][0] <= cutoff1:
                second.clear()
            else:
                drop_expired(second, cutoff1)
        if not first and not second:
            dead.append(key)
    for key in dead:
        del pairs[key]


class JoinWindowStore(StateStore):
    """Records of one join side by key; ``fetch(key, t0, t1)`` yields ``(timestamp, value)``.

    Hot-path contract (the join node inlines ``put``): ``pairs`` maps key -> ``[list, list]``
    and this side's sorted list is ``pairs[key][side]`` (the other slot is the partner
    store's when the two share, else always empty); ``observed_stream_time`` is the newest
    timestamp put, ``next_sweep`` the stream time of the next sweep, and every kept record
    is logged as ``(key, ts, seq) -> (value, ts)``: its key appended to ``log_buffer`` and
    its ``(ts, value)`` entry to ``log_entries`` when the task buffers the changelog
    (``buffer_changelog``), else handed to ``_change_logger`` at once. A key leaves
    ``pairs`` only when both of its lists are empty.
    """

    kind = "window"

    def __init__(self, name: str, retention_ms: int, window_size_ms: int) -> None:
        super().__init__(name)
        self.retention_ms = retention_ms
        self.window_size_ms = window_size_ms
        self.segment_interval_ms = max(retention_ms // 2, MIN_SEGMENT_INTERVAL_MS)
        self.observed_stream_time = _NO_TIME
        self.pairs: dict[Any, list[list[tuple[int, Any]]]] = {}
        self.side = 0  # this store's slot in ``pairs``
        self.partner: JoinWindowStore | None = None
        self.next_sweep = _NO_TIME
        self.seq = 0  # sequence number of the last record logged
        self.log_buffer: list[Any] | None = None  # keys of the buffered writes
        self.log_entries: list[tuple[int, Any]] = []  # their (timestamp, value) entries

    def share_with(self, other: JoinWindowStore) -> bool:
        """Put the other side of the join into this store's dict (slot 1), moving any
        records it holds (restored before the join's nodes were initialised). True if the
        two share a dict now; False if either already shares with a third store."""
        if other.pairs is self.pairs:
            return True
        if other is self or self.partner is not None or other.partner is not None:
            return False
        pairs = self.pairs
        for key, pair in other.pairs.items():
            mine = pairs.get(key)
            if mine is None:
                pairs[key] = [[], pair[0]]
            else:
                mine[1] = pair[0]
        other.pairs, other.side = pairs, 1
        self.partner, other.partner = other, self
        return True

    @property
    def data(self) -> dict[Any, list[tuple[int, Any]]]:
        """This side's lists by key, swept or not (a snapshot for inspection; keys whose
        list is empty but whose partner's is not appear with ``[]``)."""
        side = self.side
        return {key: pair[side] for key, pair in self.pairs.items()}

    def buffer_changelog(self) -> None:
        """Keep writes for ``drain_changelog`` instead of calling ``_change_logger`` per
        put: the task's batched changelog (every write is its own changelog record)."""
        if self.log_buffer is None:
            self.log_buffer = []
            self.log_entries = []

    def drain_changelog(self) -> list[tuple[tuple[Any, int, int], Any, int]]:
        """The changelog records of the writes since the last drain, in write order, as
        ``((key, timestamp, seq), value, timestamp)``; numbers them as the puts would have."""
        keys, entries = self.log_buffer, self.log_entries
        if not keys:
            return []
        first = self.seq + 1
        count = len(keys)
        seqs: Any = range(first, first + count)
        if first + count - 1 > MAX_SEQ:  # the 4-byte sequence number wraps within this batch
            seqs = [seq & MAX_SEQ for seq in seqs]
        times = list(map(_ts_of, entries))
        records = list(zip(zip(keys, times, seqs), map(_value_of, entries), times))
        self.seq = (self.seq + count) & MAX_SEQ
        keys.clear()
        entries.clear()
        return records

    def put(self, key: Any, value: Any, timestamp: int) -> None:
        """Keep ``value`` unless it is None or already older than the retention."""
        if value is None or key is None:
            return  # a join store retains duplicates: there is nothing to delete
        if timestamp > self.observed_stream_time:
            self.observed_stream_time = timestamp
            if timestamp >= self.next_sweep:
                self.sweep()
        elif timestamp <= self.observed_stream_time - self.retention_ms:
            return  # "Skipping record for expired segment."
        entry = (timestamp, value)
        pair = self.pairs.get(key)
        if pair is None:
            self.pairs[key] = [[entry], []] if self.side == 0 else [[], [entry]]
        else:
            entries = pair[self.side]
            if not entries or entries[-1][0] <= timestamp:
                entries.append(entry)
            else:
                insert_in_order(entries, entry)
        if self.log_buffer is not None:
            self.log_buffer.append(key)
            self.log_entries.append(entry)
            return
        logger = self._change_logger
        if logger is not None:
            self.seq = (self.seq + 1) & MAX_SEQ
            logger((key, timestamp, self.seq), (value, timestamp))

    def fetch(self, key: Any, time_from: int, time_to: int) -> Iterator[tuple[int, Any]]:
        """Records of ``key`` with ``time_from <= timestamp <= time_to``, oldest first."""
        pair = self.pairs.get(key)
        entries = pair[self.side] if pair is not None else None
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

    def sweep(self) -> None:
        """Drop expired records; runs once per segment interval of stream time, so its cost
        (one look at each key) is spread over a segment's worth of records. A store that
        shares its dict sweeps its partner's side too (each side by its own stream time,
        and the partner's next sweep moves on): one pass over the keys instead of two. A
        key goes once neither side holds a record."""
        self.next_sweep = self.observed_stream_time + self.segment_interval_ms
        partner = self.partner
        if partner is not None and partner.observed_stream_time != _NO_TIME:
            partner.next_sweep = partner.observed_stream_time + partner.segment_interval_ms
            cutoffs = [0, 0]
            cutoffs[self.side] = self.observed_stream_time - self.retention_ms
            cutoffs[partner.side] = partner.observed_stream_time - partner.retention_ms
            _sweep_both(self.pairs, cutoffs[0], cutoffs[1])
            return
        cutoff = self.observed_stream_time - self.retention_ms  # records <= cutoff expired
        pairs = self.pairs
        side, other_side = self.side, 1 - self.side
        dead = []
        for key, pair in pairs.items():
            entries = pair[side]
            if entries:
                if entries[0][0] > cutoff:
                    continue
                if entries[-1][0] > cutoff:
                    drop_expired(entries, cutoff)
                    continue
                entries.clear()
            if not pair[other_side]:
                dead.append(key)
        for key in dead:
            del pairs[key]

    def all(self) -> Iterator[tuple[Any, int, Any]]:
        """Every live record as ``(key, timestamp, value)`` (for inspection)."""
        low = self.observed_stream_time - self.retention_ms + 1
        side = self.side
        for key, pair in self.pairs.items():
            for ts, value in pair[side]:
                if ts >= low:
                    yield key, ts, value

    def approximate_num_entries(self) -> int:
        """Records held, swept or not yet swept (the store's memory footprint)."""
        side = self.side
        return sum(len(pair[side]) for pair in self.pairs.values())

    def _restore(self, key: Any, value: Any) -> None:
        """Apply a changelog record ``((key, timestamp, seq), (value, timestamp))``."""
        if value is None:
            return
        logger, self._change_logger = self._change_logger, None
        buffer, self.log_buffer = self.log_buffer, None
        try:
            self.put(key[0], value[0], key[1])
            if len(key) > 2 and key[2] > self.seq:
                self.seq = key[2]
        finally:
            self._change_logger = logger
            self.log_buffer = buffer


class OuterJoinIndex:
    """The in-memory index of an outer store, for the in-memory store and the persistent
    one alike: ``_values`` (slot -> values) and ``_order`` (the sorted ``(ts, side, seq,
    key)`` index), what the join node reads, and how a record is parked in them."""

    _values: dict[tuple[int, int, Any], list[Any]]
    _order: list[tuple[int, int, int, Any]]
    _seq: int

    def _park(self, slot: tuple[int, int, Any], value: Any) -> tuple[list[Any], int]:
        """Add ``value`` at ``slot``: (the slot's values, the new entry's arrival number,
        or 0 if the slot was parked already)."""
        values = self._values.get(slot)
        if values is not None:
            values.append(value)
            return values, 0
        values = self._values[slot] = [value]
        self._seq = seq = self._seq + 1
        timestamp, side, key = slot
        entry = (timestamp, side, seq, key)
        order = self._order
        if not order or order[-1] < entry:
            order.append(entry)
        else:
            order.insert(bisect_right(order, entry), entry)
        return values, seq

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


class OuterJoinStore(OuterJoinIndex, StateStore):
    """The "outer shared" store of a left/outer stream-stream join: records that found no
    partner yet, waiting for their window to close.

    Entries are keyed by ``(timestamp, side, key)`` (side 0 = left, 1 = right) and hold the
    list of values seen for that key and time (Kafka's list-value store). ``ordered()``
    visits them as Kafka does: by timestamp, left before right; within one timestamp and
    side in arrival order (Kafka orders those by serialized key bytes). Each change is
    logged as ``(timestamp, side, key) -> (side, values)`` (None once emitted or matched).
    """

    kind = "key_value"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._values: dict[tuple[int, int, Any], list[Any]] = {}
        self._order: list[tuple[int, int, int, Any]] = []  # sorted (ts, side, seq, key)
        self._seq = 0

    def add(self, timestamp: int, side: int, key: Any, value: Any) -> None:
        slot = (timestamp, side, key)
        values, _seq = self._park(slot, value)
        logger = self._change_logger
        if logger is not None:
            logger(slot, (side, values))

    def remove(self, timestamp: int, side: int, key: Any) -> None:
        """Forget a record that found a partner (its null-joined result must never appear)."""
        if self._values.pop((timestamp, side, key), None) is not None:
            logger = self._change_logger
            if logger is not None:
                logger((timestamp, side, key), None)

    def all(self) -> Iterator[tuple[tuple[int, int, Any], list[Any]]]:
        for ts, side, _seq, key in self._order:
            values = self._values.get((ts, side, key))
            if values is not None:
                yield (ts, side, key), values

    def approximate_num_entries(self) -> int:
        return len(self._values)

    def _restore(self, slot: Any, stored: Any) -> None:
        """Apply a changelog record ``((ts, side, key), (side, values) or None)``."""
        ts, side, key = slot
        self._values.pop((ts, side, key), None)
        if stored is None:
            return
        logger, self._change_logger = self._change_logger, None
        try:
            for value in stored[1]:
                self.add(ts, side, key, value)
        finally:
            self._change_logger = logger


class StreamJoinBuffer(StateStore):
    """The ``<join>-Buffer`` store of a stream-table join with a grace period (Kafka's
    time-ordered key-value buffer): stream records wait until stream time has passed their
    timestamp by the grace period, then leave in timestamp order (ties in arrival order).

    Each buffered record is logged as ``(key, timestamp, seq) -> (value, timestamp)`` and
    its eviction as a tombstone, so a restored task joins exactly the records still waiting.
    """

    kind = "key_value"

    def __init__(self, name: str, grace_ms: int) -> None:
        super().__init__(name)
        self.grace_ms = grace_ms
        self._heap: list[tuple[int, int, Any, Any, Any]] = []  # (ts, seq, key, value, headers)
        self._restored: set[tuple[int, int]] = set()  # (ts, seq) put back by restoring
        self._evicted: set[tuple[int, int]] = set()  # of those, the ones since tombstoned
        self.seq = 0

    def put(self, observed_stream_time: int, key: Any, value: Any, timestamp: int,
            headers: Any = None) -> bool:
        """Buffer a record; False (not buffered) if it is already older than the grace."""
        if observed_stream_time - self.grace_ms > timestamp:
            return False
        self.seq = (self.seq + 1) & MAX_SEQ
        heappush(self._heap, (timestamp, self.seq, key, value, headers))
        logger = self._change_logger
        if logger is not None:
            logger((key, timestamp, self.seq), (value, timestamp))
        return True

    def evict(self, observed_stream_time: int) -> Iterator[tuple[Any, Any, int, Any]]:
        """Remove and yield ``(key, value, timestamp, headers)`` of every record whose time
        is at most ``observed_stream_time - grace``, oldest first."""
        heap = self._heap
        limit = observed_stream_time - self.grace_ms
        while heap and heap[0][0] <= limit:
            timestamp, seq, key, value, headers = heappop(heap)
            if self._restored:
                self._restored.discard((timestamp, seq))
            if self._evicted and (timestamp, seq) in self._evicted:
                self._evicted.discard((timestamp, seq))
                continue
            logger = self._change_logger
            if logger is not None:
                logger((key, timestamp, seq), None)
            yield key, value, timestamp, headers

    def all(self) -> Iterator[tuple[Any, int, Any]]:
        """Buffered records as ``(key, timestamp, value)``, in eviction order."""
        for timestamp, seq, key, value, _headers in sorted(self._heap, key=lambda e: e[:2]):
            if (timestamp, seq) not in self._evicted:
                yield key, timestamp, value

    def approximate_num_entries(self) -> int:
        return len(self._heap) - len(self._evicted)

    def _restore(self, key: Any, value: Any) -> None:
        """Apply ``((key, timestamp, seq), (value, timestamp) or None)``: a put is pushed, a
        tombstone (always after its put) marks the record as already evicted."""
        record_key, timestamp, seq = key[0], key[1], key[2] if len(key) > 2 else 0
        if value is None:
            # Only a record restored here can be waiting; a tombstone without its put (both
            # within one commit, deduplicated) leaves nothing behind.
            if (timestamp, seq) in self._restored:
                self._restored.discard((timestamp, seq))
                self._evicted.add((timestamp, seq))
        else:
            heappush(self._heap, (timestamp, seq, record_key, value[0], None))
            self._restored.add((timestamp, seq))
        if seq > self.seq:
            self.seq = seq
