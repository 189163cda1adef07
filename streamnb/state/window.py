"""Window stores: values per (key, window start), kept for a retention period.

As in Kafka, a put whose window start is already older than ``observed stream time -
retention`` is skipped, and windows that fall out of the retention are dropped as stream
time moves on (whole time slices at once), so the store stays a flat size on an endless
stream. Reads never return expired windows, swept or not.

``InMemoryWindowStore`` keeps ``{window start: {key: value}}``; ``PersistentWindowStore``
keeps the same in sqlite segment files (see ``_segments.py``). DSL aggregations store
``(value, timestamp)`` pairs (``timestamped``); ``driver_view`` hides the timestamps.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..processor import KeyValue
from ._base import KeyValueIterator, StateStore, ValueAndTimestamp, sorted_items
from ._segments import SegmentedLifecycle, SqliteSegments, encode_key, pad

NO_TIME = -1  # Kafka's ConsumerRecord.NO_TIMESTAMP
_MAX_TIME = 2**63 - 1


def _windowed(key: Any, start: int, end: int) -> Any:
    from ..dsl.windows import _windowed as make

    return make(key, start, end)


class _WindowStore(StateStore):
    """Logic shared by both backends; subclasses provide the ``_raw_*`` primitives."""

    kind = "window"

    def __init__(self, name: str, retention_ms: int, window_size_ms: int,
                 retain_duplicates: bool = False) -> None:
        super().__init__(name)
        if retention_ms < 0:
            raise ValueError(f"retention period of window store {name!r} must not be "
                             f"negative, got {retention_ms} ms")
        if window_size_ms < 0:
            raise ValueError(f"window size of window store {name!r} must not be negative, "
                             f"got {window_size_ms} ms")
        if window_size_ms > retention_ms:
            raise ValueError(
                f"The retention period of the window store {name} must be no smaller than its "
                f"window size. Got size=[{window_size_ms}], retention=[{retention_ms}]"
            )
        self.retention_ms = retention_ms
        self.window_size_ms = window_size_ms
        self.retain_duplicates = retain_duplicates
        self.observed_stream_time = NO_TIME
        self.timestamped = False
        self.expired_records = 0  # puts skipped because their window had already expired
        self._seq = 0

    # -- primitives (backend) ---------------------------------------------------------------
    def _raw_get(self, key: Any, start: int) -> Any:
        raise NotImplementedError

    def _raw_put(self, key: Any, start: int, value: Any) -> None:
        raise NotImplementedError

    def _raw_fetch(self, key: Any, t_from: int, t_to: int) -> list[tuple[int, Any]]:
        raise NotImplementedError

    def _raw_fetch_all(self, t_from: int, t_to: int) -> list[tuple[Any, int, Any]]:
        raise NotImplementedError

    def _expire(self, min_live: int) -> None:
        raise NotImplementedError

    # -- writes -----------------------------------------------------------------------------
    def _min_live(self) -> int:
        return max(0, self.observed_stream_time - self.retention_ms + 1)

    def put(self, key: Any, value: Any, window_start_timestamp: int) -> None:
        """Store ``value`` for ``key``'s window starting at ``window_start_timestamp``
        (``None`` deletes); skipped if that window is already past the retention."""
        if key is None:
            raise ValueError(f"window store {self.name!r}: keys must not be None")
        start = window_start_timestamp
        observed = self.observed_stream_time
        if start > observed:
            self.observed_stream_time = observed = start
            self._expire(max(0, observed - self.retention_ms + 1))
        if start <= observed - self.retention_ms:
            self.expired_records += 1  # Kafka: "Skipping record for expired segment."
            return
        if self.retain_duplicates:
            # Kafka's join stores: every put is kept (a None put is ignored).
            if value is None:
                return
            values = self._raw_get(key, start)
            self._raw_put(key, start, [value] if values is None else [*values, value])
            self._seq += 1
            logger = self._change_logger
            if logger is not None:
                logger((key, start, self._seq), value)
            return
        self._raw_put(key, start, value)
        logger = self._change_logger
        if logger is not None:
            logger((key, start), value)

    def remove(self, key: Any, window_start_timestamp: int) -> None:
        self.put(key, None, window_start_timestamp)

    # -- reads ------------------------------------------------------------------------------
    def fetch(self, key: Any, time_from: int, time_to: int | None = None) -> Any:
        """``fetch(key, t)``: the value of the window starting at ``t`` (or None);
        ``fetch(key, t_from, t_to)``: ``(window_start, value)`` pairs with
        ``t_from <= start <= t_to``, oldest first."""
        if time_to is None:
            if time_from < self._min_live():
                return None
            value = self._raw_get(key, time_from)
            if self.retain_duplicates and value is not None:
                return value[0]
            return value
        return KeyValueIterator(self._key_rows(key, time_from, time_to))

    def _key_rows(self, key: Any, time_from: int, time_to: int) -> list[tuple[int, Any]]:
        low = max(time_from, self._min_live())
        if low > time_to:
            return []
        rows = self._raw_fetch(key, low, time_to)
        if self.retain_duplicates:
            rows = [(start, value) for start, values in rows for value in values]
        return rows

    def backward_fetch(self, key: Any, time_from: int, time_to: int) -> KeyValueIterator:
        """As ``fetch(key, t_from, t_to)``, newest first."""
        return KeyValueIterator(reversed(self._key_rows(key, time_from, time_to)))

    def _windowed_pairs(self, rows: list[tuple[Any, int, Any]]) -> Iterator[KeyValue]:
        size = self.window_size_ms
        dups = self.retain_duplicates
        for key, start, value in rows:
            windowed = _windowed(key, start, start + size)
            if dups:
                for one in value:
                    yield KeyValue(windowed, one)
            else:
                yield KeyValue(windowed, value)

    def fetch_range(self, key_from: Any, key_to: Any, time_from: int, time_to: int
                    ) -> KeyValueIterator:
        """``(Windowed, value)`` for keys in ``[key_from, key_to]`` (None: unbounded)."""
        from ._base import in_range

        rows = [r for r in self._all_rows(time_from, time_to) if in_range(r[0], key_from, key_to)]
        return KeyValueIterator(self._windowed_pairs(rows))

    def _all_rows(self, time_from: int, time_to: int) -> list[tuple[Any, int, Any]]:
        low = max(time_from, self._min_live())
        if low > time_to:
            return []
        return self._raw_fetch_all(low, time_to)

    def fetch_all(self, time_from: int, time_to: int) -> KeyValueIterator:
        """``(Windowed, value)`` of every key's windows starting in ``[t_from, t_to]``, by
        window start, then key."""
        return KeyValueIterator(self._windowed_pairs(self._all_rows(time_from, time_to)))

    def backward_fetch_all(self, time_from: int, time_to: int) -> KeyValueIterator:
        rows = self._all_rows(time_from, time_to)
        rows.reverse()
        return KeyValueIterator(self._windowed_pairs(rows))

    def all(self) -> KeyValueIterator:
        """Every live window as ``(Windowed, value)``."""
        return self.fetch_all(0, _MAX_TIME)

    def backward_all(self) -> KeyValueIterator:
        return self.backward_fetch_all(0, _MAX_TIME)

    def approximate_num_entries(self) -> int:
        """Windows held (swept or not): the store's footprint."""
        raise NotImplementedError

    def _restore(self, key: Any, value: Any) -> None:
        """Apply a changelog record ``((key, window_start[, seq]), value)``."""
        logger, self._change_logger = self._change_logger, None
        try:
            self.put(key[0], value, key[1])
        finally:
            self._change_logger = logger

    def driver_view(self, timestamped_view: bool) -> Any:
        return _WindowStoreView(self, timestamped_view)


class InMemoryWindowStore(_WindowStore):
    """Windows in memory: ``{window start: {key: value}}`` with the starts kept sorted."""

    def __init__(self, name: str, retention_ms: int, window_size_ms: int,
                 retain_duplicates: bool = False) -> None:
        super().__init__(name, retention_ms, window_size_ms, retain_duplicates)
        self._segments: dict[int, dict[Any, Any]] = {}
        self._starts: list[int] = []

    def _raw_get(self, key: Any, start: int) -> Any:
        segment = self._segments.get(start)
        return None if segment is None else segment.get(key)

    def _raw_put(self, key: Any, start: int, value: Any) -> None:
        segment = self._segments.get(start)
        if value is None:
            if segment is not None:
                segment.pop(key, None)
            return
        if segment is None:
            segment = self._segments[start] = {}
            starts = self._starts
            if not starts or starts[-1] < start:
                starts.append(start)
            else:
                insort(starts, start)
        segment[key] = value

    def _raw_fetch(self, key: Any, t_from: int, t_to: int) -> list[tuple[int, Any]]:
        starts = self._starts
        segments = self._segments
        out = []
        for start in starts[bisect_left(starts, t_from):bisect_right(starts, t_to)]:
            value = segments[start].get(key)
            if value is not None:
                out.append((start, value))
        return out

    def _raw_fetch_all(self, t_from: int, t_to: int) -> list[tuple[Any, int, Any]]:
        starts = self._starts
        segments = self._segments
        out = []
        for start in starts[bisect_left(starts, t_from):bisect_right(starts, t_to)]:
            for key, value in sorted_items(segments[start].items()):
                out.append((key, start, value))
        return out

    def _expire(self, min_live: int) -> None:
        starts = self._starts
        if not starts or starts[0] >= min_live:
            return
        cut = bisect_left(starts, min_live)
        segments = self._segments
        for start in starts[:cut]:
            del segments[start]
        del starts[:cut]

    @property
    def hot_segments(self) -> Any:
        """``() -> {window start: {key: value}}`` for the engine's hot loops (None for stores
        that retain duplicates). A caller may update an existing key of a segment whose start
        is not beyond ``observed_stream_time`` in place (then it must call the change logger
        itself); anything else goes through ``put``."""
        if self.retain_duplicates:
            return None
        return lambda: self._segments

    def fast_ops(self) -> tuple[dict[int, dict[Any, Any]], Any] | None:
        """``({window start: {key: value}}, put)`` for operator fusion (None for stores that
        retain duplicates): generated code updates a key of an existing segment in place
        (and logs the change itself); a window whose segment is missing goes through
        ``put``, which creates the segment, expires old ones and logs."""
        if self.retain_duplicates:
            return None
        return self._segments, self.put

    def approximate_num_entries(self) -> int:
        if self.retain_duplicates:
            return sum(len(v) for segment in self._segments.values() for v in segment.values())
        return sum(len(segment) for segment in self._segments.values())


class PersistentWindowStore(SegmentedLifecycle, _WindowStore):
    """Windows in sqlite segment files (``max(retention / 2, 60 s)`` of window starts each,
    as Kafka's RocksDB window store), with a write-back cache flushed at commit."""

    persistent = True

    def __init__(self, name: str, retention_ms: int, window_size_ms: int,
                 retain_duplicates: bool = False, segment_interval_ms: int | None = None
                 ) -> None:
        super().__init__(name, retention_ms, window_size_ms, retain_duplicates)
        self.segment_interval_ms = segment_interval_ms or max(retention_ms // 2, 60_000)
        self._db: SqliteSegments | None = None
        self._keys: dict[str, Any] = {}

    def init(self, directory: Path | None = None) -> None:
        if directory is None:
            import tempfile

            directory = Path(tempfile.mkdtemp(prefix=f"streamnb-{self.name}-"))
        super().init(directory)
        self._db = SqliteSegments(directory, self.segment_interval_ms)
        meta = self._db.read_meta()
        if meta is not None:
            self.observed_stream_time = meta

    def _segments(self) -> SqliteSegments:
        self._check_open()
        assert self._db is not None
        return self._db

    @staticmethod
    def _row(ekey: str, start: int) -> str:
        return f"{ekey}\x00{pad(start)}"

    def _raw_get(self, key: Any, start: int) -> Any:
        db = self._segments()
        stored = db.get(db.segment_of(start), self._row(encode_key(key), start))
        return None if stored is None else stored[1]

    def _raw_put(self, key: Any, start: int, value: Any) -> None:
        db = self._segments()
        db.put(db.segment_of(start), self._row(encode_key(key), start),
               None if value is None else (key, value))

    def _raw_fetch(self, key: Any, t_from: int, t_to: int) -> list[tuple[int, Any]]:
        db = self._segments()
        ekey = encode_key(key)
        out = []
        for seg in db.segments():
            if seg < db.segment_of(t_from) or seg > db.segment_of(t_to):
                continue
            for row, (_key, value) in db.scan(seg, self._row(ekey, t_from),
                                              self._row(ekey, t_to)):
                out.append((int(row[-20:]), value))
        return out

    def _raw_fetch_all(self, t_from: int, t_to: int) -> list[tuple[Any, int, Any]]:
        db = self._segments()
        out = []
        for seg in db.segments():
            if seg < db.segment_of(t_from) or seg > db.segment_of(t_to):
                continue
            for row, (key, value) in db.scan(seg, "", "\U0010ffff"):
                start = int(row[-20:])
                if t_from <= start <= t_to:
                    out.append((key, start, value))
        out.sort(key=lambda r: r[1])  # stable: keys stay in row order within a start
        return out



class _WindowStoreView:
    """What ``TopologyTestDriver.get_window_store`` returns: plain values (or
    ``ValueAndTimestamp``) instead of the (value, timestamp) pairs a DSL store keeps."""

    def __init__(self, store: _WindowStore, with_timestamps: bool) -> None:
        self._store = store
        self._with_ts = with_timestamps
        self.name = store.name

    def _out(self, stored: Any) -> Any:
        if stored is None or not self._store.timestamped:
            return stored
        return ValueAndTimestamp(stored[0], stored[1]) if self._with_ts else stored[0]

    def _pairs(self, it: Any) -> KeyValueIterator:
        return KeyValueIterator((kv[0], self._out(kv[1])) for kv in it)

    def fetch(self, key: Any, time_from: Any, time_to: Any = None) -> Any:
        from .._time import to_timestamp

        t_from = to_timestamp(time_from, "time_from")
        if time_to is None:
            return self._out(self._store.fetch(key, t_from))
        return self._pairs(self._store.fetch(key, t_from, to_timestamp(time_to, "time_to")))

    def backward_fetch(self, key: Any, time_from: int, time_to: int) -> KeyValueIterator:
        return self._pairs(self._store.backward_fetch(key, time_from, time_to))

    def fetch_all(self, time_from: int, time_to: int) -> KeyValueIterator:
        return self._pairs(self._store.fetch_all(time_from, time_to))

    def backward_fetch_all(self, time_from: int, time_to: int) -> KeyValueIterator:
        return self._pairs(self._store.backward_fetch_all(time_from, time_to))

    def all(self) -> KeyValueIterator:
        return self._pairs(self._store.all())

    def backward_all(self) -> KeyValueIterator:
        return self._pairs(self._store.backward_all())

    def approximate_num_entries(self) -> int:
        return self._store.approximate_num_entries()

    def put(self, key: Any, value: Any, window_start_timestamp: int, timestamp: int | None = None
            ) -> None:
        """Write a window (test set-up); DSL stores get ``timestamp`` (default: the start)."""
        if self._store.timestamped and value is not None:
            value = (value, window_start_timestamp if timestamp is None else timestamp)
        self._store.put(key, value, window_start_timestamp)

    def __iter__(self) -> Any:
        return iter(self.all())

    def __repr__(self) -> str:
        return f"<window store {self.name!r} ({self.approximate_num_entries()} windows)>"


__all__ = ["InMemoryWindowStore", "PersistentWindowStore"]
