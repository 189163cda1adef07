"""Session stores: one aggregate per (key, session window), kept for a retention period.

Keys are ``Windowed`` (key plus a ``SessionWindow`` with inclusive ``start``/``end``). As in
Kafka, sessions whose end is older than ``observed stream time - retention`` are skipped on
put and dropped as stream time moves on, so the store stays a flat size.

``InMemorySessionStore`` indexes sessions per key and per end time;
``PersistentSessionStore`` keeps them in sqlite segment files by end time.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from pathlib import Path
from typing import Any

from ._base import KeyValueIterator, StateStore, sorted_items
from ._segments import SegmentedLifecycle, SqliteSegments, encode_key, pad

NO_TIME = -1
_MAX_TIME = 2**63 - 1


def _session_key(key: Any, start: int, end: int) -> Any:
    from ..dsl.windows import SessionWindow, Windowed

    window = object.__new__(SessionWindow)
    window.start = start
    window.end = end
    return Windowed(key, window)


def _check_windowed(session_key: Any, name: str) -> None:
    if getattr(session_key, "window", None) is None or not hasattr(session_key, "key"):
        raise TypeError(
            f"session store {name!r} takes Windowed keys (key plus session window), got "
            f"{type(session_key).__name__}"
        )
    if session_key.key is None:
        raise ValueError(f"session store {name!r}: keys must not be None")


class _SessionStore(StateStore):
    """Logic shared by both backends; subclasses provide ``_raw_*``."""

    kind = "session"

    def __init__(self, name: str, retention_ms: int) -> None:
        super().__init__(name)
        if retention_ms < 0:
            raise ValueError(f"retention period of session store {name!r} must not be "
                             f"negative, got {retention_ms} ms")
        self.retention_ms = retention_ms
        self.observed_stream_time = NO_TIME
        self.timestamped = False
        self.expired_records = 0

    # -- primitives -------------------------------------------------------------------------
    def _raw_put(self, key: Any, start: int, end: int, value: Any) -> None:
        raise NotImplementedError

    def _raw_get(self, key: Any, start: int, end: int) -> Any:
        raise NotImplementedError

    def _raw_key_sessions(self, key: Any, min_end: int) -> list[tuple[int, int, Any]]:
        """(end, start, value) of ``key`` with ``end >= min_end``, by (end, start)."""
        raise NotImplementedError

    def _raw_by_end(self, min_end: int, max_end: int) -> list[tuple[Any, int, int, Any]]:
        """(key, start, end, value) with end in range, by end, then key, then start."""
        raise NotImplementedError

    def _expire(self, min_live: int) -> None:
        raise NotImplementedError

    # -- writes -----------------------------------------------------------------------------
    def _min_live(self) -> int:
        return max(0, self.observed_stream_time - self.retention_ms + 1)

    def put(self, session_key: Any, aggregate: Any) -> None:
        """Store ``aggregate`` for the session ``session_key`` (``None`` removes it)."""
        _check_windowed(session_key, self.name)
        window = session_key.window
        end = window.end
        if end > self.observed_stream_time:
            self.observed_stream_time = end
            self._expire(self._min_live())
        if end <= self.observed_stream_time - self.retention_ms:
            self.expired_records += 1  # Kafka: "Skipping record for expired segment."
            return
        self._raw_put(session_key.key, window.start, end, aggregate)
        logger = self._change_logger
        if logger is not None:
            logger(session_key, aggregate)

    def remove(self, session_key: Any) -> None:
        self.put(session_key, None)

    # -- reads ------------------------------------------------------------------------------
    def fetch_session(self, key: Any, session_start_time: int, session_end_time: int) -> Any:
        """The aggregate of exactly that session, or None."""
        if session_end_time < self._min_live():
            return None
        return self._raw_get(key, session_start_time, session_end_time)

    def _find_key(self, key: Any, earliest_end: int, latest_start: int) -> list[Any]:
        rows = self._raw_key_sessions(key, max(earliest_end, self._min_live()))
        return [(_session_key(key, start, end), value)
                for end, start, value in rows if start <= latest_start]

    def _find_all(self, earliest_end: int, latest_end: int) -> list[Any]:
        low = max(earliest_end, self._min_live())
        if low > latest_end:
            return []
        return [(_session_key(key, start, end), value)
                for key, start, end, value in self._raw_by_end(low, latest_end)]

    def find_sessions(self, *args: Any) -> KeyValueIterator:
        """``find_sessions(key, earliest_session_end, latest_session_start)``: ``key``'s
        sessions that end at or after the first and start at or before the second;
        ``find_sessions(earliest_session_end, latest_session_end)``: every key's sessions
        ending in that range. Yields ``(Windowed, aggregate)``."""
        if len(args) == 3:
            return KeyValueIterator(self._find_key(*args))
        if len(args) == 2:
            return KeyValueIterator(self._find_all(*args))
        raise TypeError(
            "find_sessions takes (key, earliest_session_end_time, latest_session_start_time) "
            f"or (earliest_session_end_time, latest_session_end_time), got {len(args)} arguments"
        )

    def backward_find_sessions(self, *args: Any) -> KeyValueIterator:
        rows = list(self.find_sessions(*args))
        rows.reverse()
        return KeyValueIterator(rows)

    def fetch(self, key: Any, key_to: Any = None) -> KeyValueIterator:
        """Every session of ``key`` (or of every key when ``key`` is None), oldest first."""
        if key is None and key_to is None:
            return KeyValueIterator(self._find_all(0, _MAX_TIME))
        if key_to is not None:
            from ._base import in_range

            rows = [kv for kv in self._find_all(0, _MAX_TIME) if in_range(kv[0].key, key, key_to)]
            return KeyValueIterator(rows)
        return KeyValueIterator(self._find_key(key, 0, _MAX_TIME))

    def backward_fetch(self, key: Any) -> KeyValueIterator:
        rows = self._find_key(key, 0, _MAX_TIME)
        rows.reverse()
        return KeyValueIterator(rows)

    def all(self) -> KeyValueIterator:
        return KeyValueIterator(self._find_all(0, _MAX_TIME))

    def approximate_num_entries(self) -> int:
        raise NotImplementedError

    def _restore(self, session_key: Any, value: Any) -> None:
        logger, self._change_logger = self._change_logger, None
        try:
            self.put(session_key, value)
        finally:
            self._change_logger = logger

    def driver_view(self, timestamped_view: bool) -> Any:
        return self


class InMemorySessionStore(_SessionStore):
    """Sessions in memory: per key ``{(end, start): value}``, plus an index by end time."""

    def __init__(self, name: str, retention_ms: int) -> None:
        super().__init__(name, retention_ms)
        self._by_key: dict[Any, dict[tuple[int, int], Any]] = {}
        self._by_end: dict[int, set[tuple[Any, int]]] = {}
        self._ends: list[int] = []

    def _raw_put(self, key: Any, start: int, end: int, value: Any) -> None:
        sessions = self._by_key.get(key)
        if value is None:
            if sessions is not None and sessions.pop((end, start), None) is not None:
                if not sessions:
                    del self._by_key[key]
                members = self._by_end.get(end)
                if members is not None:
                    members.discard((key, start))
            return
        if sessions is None:
            sessions = self._by_key[key] = {}
        sessions[(end, start)] = value
        members = self._by_end.get(end)
        if members is None:
            self._by_end[end] = {(key, start)}
            ends = self._ends
            if not ends or ends[-1] < end:
                ends.append(end)
            else:
                insort(ends, end)
        else:
            members.add((key, start))

    def _raw_get(self, key: Any, start: int, end: int) -> Any:
        sessions = self._by_key.get(key)
        return None if sessions is None else sessions.get((end, start))

    def _raw_key_sessions(self, key: Any, min_end: int) -> list[tuple[int, int, Any]]:
        sessions = self._by_key.get(key)
        if not sessions:
            return []
        return [(end, start, value) for (end, start), value in sorted(sessions.items())
                if end >= min_end]

    def _raw_by_end(self, min_end: int, max_end: int) -> list[tuple[Any, int, int, Any]]:
        out = []
        ends = self._ends
        for end in ends[bisect_left(ends, min_end):]:
            if end > max_end:
                break
            members = self._by_end[end]
            for key, start in sorted_items(members):
                out.append((key, start, end, self._by_key[key][(end, start)]))
        return out

    def _expire(self, min_live: int) -> None:
        ends = self._ends
        if not ends or ends[0] >= min_live:
            return
        cut = bisect_left(ends, min_live)
        by_key = self._by_key
        for end in ends[:cut]:
            for key, start in self._by_end.pop(end):
                sessions = by_key.get(key)
                if sessions is not None:
                    sessions.pop((end, start), None)
                    if not sessions:
                        del by_key[key]
        del ends[:cut]

    def approximate_num_entries(self) -> int:
        return sum(len(sessions) for sessions in self._by_key.values())


class PersistentSessionStore(SegmentedLifecycle, _SessionStore):
    """Sessions in sqlite segment files by end time, with a write-back cache."""

    persistent = True

    def __init__(self, name: str, retention_ms: int, segment_interval_ms: int | None = None
                 ) -> None:
        super().__init__(name, retention_ms)
        self.segment_interval_ms = segment_interval_ms or max(retention_ms // 2, 60_000)
        self._db: SqliteSegments | None = None

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
    def _row(ekey: str, start: int, end: int) -> str:
        return f"{ekey}\x00{pad(end)}{pad(start)}"

    def _raw_put(self, key: Any, start: int, end: int, value: Any) -> None:
        db = self._segments()
        db.put(db.segment_of(end), self._row(encode_key(key), start, end),
               None if value is None else (key, value))

    def _raw_get(self, key: Any, start: int, end: int) -> Any:
        db = self._segments()
        stored = db.get(db.segment_of(end), self._row(encode_key(key), start, end))
        return None if stored is None else stored[1]

    def _raw_key_sessions(self, key: Any, min_end: int) -> list[tuple[int, int, Any]]:
        db = self._segments()
        ekey = encode_key(key)
        low = f"{ekey}\x00{pad(min_end)}"
        high = f"{ekey}\x00\x7f"
        out = []
        for seg in db.segments():
            if seg < db.segment_of(min_end):
                continue
            for row, (_key, value) in db.scan(seg, low, high):
                out.append((int(row[-40:-20]), int(row[-20:]), value))
        out.sort(key=lambda r: (r[0], r[1]))
        return out

    def _raw_by_end(self, min_end: int, max_end: int) -> list[tuple[Any, int, int, Any]]:
        db = self._segments()
        out = []
        for seg in db.segments():
            if seg < db.segment_of(min_end) or seg > db.segment_of(max_end):
                continue
            for row, (key, value) in db.scan(seg, "", "\U0010ffff"):
                end, start = int(row[-40:-20]), int(row[-20:])
                if min_end <= end <= max_end:
                    out.append((key, start, end, value))
        out.sort(key=lambda r: r[2])  # stable: by end, then row (key, start) order
        return out



__all__ = ["InMemorySessionStore", "PersistentSessionStore"]
