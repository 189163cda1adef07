"""Versioned key-value stores: every version of a key for ``history_retention``, with reads
"as of" a timestamp (Kafka's ``VersionedKeyValueStore`` semantics).

A version is ``(timestamp, value)``; it is valid from its timestamp until the next version's
timestamp (``valid_to``). ``None`` values are tombstone versions. Writes older than
``observed stream time - history_retention`` are rejected (the history retention is also
the grace period), and reads as of such times return ``None`` unless the latest version is
old enough to answer them. Versions that no query can reach any more are dropped in
segment-sized batches, so the store stays flat once stream time passes the retention.

The in-memory and the persistent (sqlitedict) stores share all of this logic; they differ
only in where each key's version list lives.
"""

from __future__ import annotations

import logging
import pickle
from bisect import bisect_right
from pathlib import Path
from typing import Any, NamedTuple

from ._base import KeyValueIterator, StateStore, sorted_items

log = logging.getLogger("streamnb.state")

#: ``put`` did not store the version: it was older than the history retention allows.
PUT_RETURN_CODE_NOT_PUT = -(2**63)
#: ``put`` stored the latest version of its key (it has no ``valid_to``).
PUT_RETURN_CODE_VALID_TO_UNDEFINED = -1
_UNKNOWN = -(2**63)
_INF = float("inf")


class VersionedRecord(NamedTuple):
    """A version of a key: its value, the timestamp it is valid from, and ``valid_to``
    (exclusive; ``None`` for the latest version). Indexes like ``(value, timestamp)``."""

    value: Any
    timestamp: int
    valid_to: int | None = None


def _ts(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int of epoch milliseconds, got {value!r}")
    return value


class _VersionedBase(StateStore):
    """The shared semantics. Subclasses provide ``_load(key)`` / ``_save(key, versions)``,
    where ``versions`` is a list of ``[timestamp, value]`` sorted by timestamp."""

    kind = "versioned"

    def __init__(self, name: str, history_retention_ms: int,
                 segment_interval_ms: int | None = None) -> None:
        super().__init__(name)
        if history_retention_ms < 0:
            raise ValueError(
                f"history retention of versioned store {name!r} must not be negative, "
                f"got {history_retention_ms} ms"
            )
        self.history_retention_ms = history_retention_ms
        if segment_interval_ms is None:
            # Kafka's default segment interval: a fifth of the retention, at least 1 s.
            segment_interval_ms = max(history_retention_ms // 5, 1000)
        if segment_interval_ms < 1:
            raise ValueError(f"segment interval must be positive, got {segment_interval_ms}")
        self.segment_interval_ms = segment_interval_ms
        self.observed_stream_time = _UNKNOWN
        # segment id -> keys holding a version whose validity ends in that segment.
        self._segments: dict[int, set[Any]] = {}
        self._cleaned_up_to = _UNKNOWN  # segments below this id were swept

    # -- storage of one key's versions (subclasses) ------------------------------------------
    def _load(self, key: Any) -> list[list[Any]] | None:
        raise NotImplementedError

    def _save(self, key: Any, versions: list[list[Any]] | None) -> None:
        raise NotImplementedError

    def _keys(self) -> list[Any]:
        raise NotImplementedError

    # -- queries ------------------------------------------------------------------------------
    def get(self, key: Any, as_of_timestamp: int | None = None) -> VersionedRecord | None:
        """The latest version (``as_of_timestamp=None``) or the version valid at
        ``as_of_timestamp`` (inclusive); ``None`` for a tombstone, a missing key, or a time
        older than the history retention that the latest version does not cover."""
        if as_of_timestamp is not None:
            _ts(as_of_timestamp, "as_of_timestamp")
        versions = self._load(key)
        if not versions:
            return None
        if as_of_timestamp is None:
            ts, value = versions[-1]
            return None if value is None else VersionedRecord(value, ts, None)
        as_of = as_of_timestamp
        if as_of < self.observed_stream_time - self.history_retention_ms:
            ts, value = versions[-1]
            if ts <= as_of and value is not None:
                return VersionedRecord(value, ts, None)
            return None
        index = bisect_right(versions, as_of, key=_first) - 1
        if index < 0:
            return None
        ts, value = versions[index]
        if value is None:
            return None
        valid_to = versions[index + 1][0] if index + 1 < len(versions) else None
        return VersionedRecord(value, ts, valid_to)

    def versions(self, key: Any) -> list[VersionedRecord]:
        """Every retained version of ``key`` (oldest first, tombstones included)."""
        versions = self._load(key) or []
        out = []
        for i, (ts, value) in enumerate(versions):
            valid_to = versions[i + 1][0] if i + 1 < len(versions) else None
            out.append(VersionedRecord(value, ts, valid_to))
        return out

    # -- updates ------------------------------------------------------------------------------
    def put(self, key: Any, value: Any, timestamp: int) -> int:
        """Add a version; return its ``valid_to``, ``PUT_RETURN_CODE_VALID_TO_UNDEFINED`` (-1)
        if it is now the latest, or ``PUT_RETURN_CODE_NOT_PUT`` if it is too old."""
        if key is None:
            raise ValueError(f"store {self.name!r}: keys must not be None")
        timestamp = _ts(timestamp, "timestamp")
        if timestamp < self.observed_stream_time - self.history_retention_ms:
            log.warning("Skipping record for expired put. store=%s key=%r timestamp=%s",
                        self.name, key, timestamp)
            return PUT_RETURN_CODE_NOT_PUT
        if timestamp > self.observed_stream_time:
            self.observed_stream_time = timestamp
        versions = self._load(key)
        if versions is None:
            versions = []
        result = self._insert(versions, value, timestamp)
        self._trim(versions)
        self._save(key, versions or None)
        self._register(key, versions)
        logger = self._change_logger
        if logger is not None:
            logger(key, (value, timestamp))
        self._maybe_sweep()
        return result

    def _register(self, key: Any, versions: list[list[Any]]) -> None:
        """Remember in which segment the oldest version of ``key`` becomes unreachable."""
        if len(versions) > 1:
            seg = versions[1][0] // self.segment_interval_ms
        elif versions and versions[0][1] is None:
            # A lone tombstone is only needed until it falls out of the history retention.
            seg = versions[0][0] // self.segment_interval_ms
        else:
            return
        keys = self._segments.get(seg)
        if keys is None:
            self._segments[seg] = {key}
        else:
            keys.add(key)

    @staticmethod
    def _insert(versions: list[list[Any]], value: Any, timestamp: int) -> int:
        if not versions or versions[-1][0] < timestamp:
            versions.append([timestamp, value])
            return PUT_RETURN_CODE_VALID_TO_UNDEFINED
        index = bisect_right(versions, timestamp, key=_first)
        if index > 0 and versions[index - 1][0] == timestamp:
            versions[index - 1][1] = value  # same timestamp: the new value replaces it
            index -= 1
        else:
            versions.insert(index, [timestamp, value])
        if index + 1 < len(versions):
            return versions[index + 1][0]
        return PUT_RETURN_CODE_VALID_TO_UNDEFINED

    def _trim(self, versions: list[list[Any]]) -> None:
        """Drop versions no query can reach: valid_to <= observed - retention."""
        cutoff = self.observed_stream_time - self.history_retention_ms
        drop = 0
        while drop + 1 < len(versions) and versions[drop + 1][0] <= cutoff:
            drop += 1
        if drop:
            del versions[:drop]
        if len(versions) == 1 and versions[0][1] is None and versions[0][0] <= cutoff:
            versions.clear()

    def _maybe_sweep(self) -> None:
        cutoff = self.observed_stream_time - self.history_retention_ms
        live = cutoff // self.segment_interval_ms  # segments below this are fully expired
        if live <= self._cleaned_up_to or not self._segments:
            return
        self._cleaned_up_to = live
        for seg in [s for s in self._segments if s < live]:
            for key in self._segments.pop(seg):
                versions = self._load(key)
                if versions:
                    before = len(versions)
                    self._trim(versions)
                    if len(versions) != before:
                        self._save(key, versions or None)
                    self._register(key, versions)

    def delete(self, key: Any, timestamp: int) -> VersionedRecord | None:
        """Add a tombstone version at ``timestamp``; return the version it ended (or None)."""
        timestamp = _ts(timestamp, "timestamp")
        if timestamp < self.observed_stream_time - self.history_retention_ms:
            self.put(key, None, timestamp)  # logs the rejection
            return None
        existing = self.get(key, timestamp)
        self.put(key, None, timestamp)
        return existing

    # -- whole-store reads (driver, notebooks) ------------------------------------------------
    def all(self) -> KeyValueIterator:
        """Latest non-deleted value of every key, in key order, as ``VersionedRecord``s."""
        pairs = []
        for key in self._keys():
            record = self.get(key)
            if record is not None:
                pairs.append((key, record))
        return KeyValueIterator(sorted_items(pairs))

    def approximate_num_entries(self) -> int:
        return len(self._keys())

    def num_versions(self) -> int:
        """Retained versions over all keys (tombstones included): the store's real size."""
        return sum(len(self._load(k) or ()) for k in self._keys())

    def _restore(self, key: Any, value: Any) -> None:
        """Apply a changelog record ``(value, timestamp)`` without logging it again."""
        logger, self._change_logger = self._change_logger, None
        try:
            if value is not None:
                self.put(key, value[0], value[1])
        finally:
            self._change_logger = logger

    def driver_view(self, timestamped_view: bool) -> _VersionedBase:
        """The store itself: ``get(key, as_of_timestamp=None)`` is what tests call."""
        return self


def _first(version: list[Any]) -> int:
    return version[0]


class InMemoryVersionedKeyValueStore(_VersionedBase):
    """Versions held in a dict of lists (rebuilt from the changelog when a task moves)."""

    def __init__(self, name: str, history_retention_ms: int,
                 segment_interval_ms: int | None = None) -> None:
        super().__init__(name, history_retention_ms, segment_interval_ms)
        self._data: dict[Any, list[list[Any]]] = {}

    def _load(self, key: Any) -> list[list[Any]] | None:
        return self._data.get(key)

    def _save(self, key: Any, versions: list[list[Any]] | None) -> None:
        if versions is None:
            self._data.pop(key, None)
        else:
            self._data[key] = versions

    def _keys(self) -> list[Any]:
        return list(self._data)


_META = "__streamnb_meta__"


def _encode_key(key: Any) -> str:
    """A str key for sqlite: ``repr`` for plain values (canonical), pickle otherwise."""
    if isinstance(key, (str, int, float, bytes)) or (
        isinstance(key, tuple) and all(isinstance(k, (str, int, float, bytes)) for k in key)
    ):
        return "r" + repr(key)
    return "p" + pickle.dumps(key, protocol=5).hex()


class PersistentVersionedKeyValueStore(_VersionedBase):
    """Versions kept on disk (sqlite via sqlitedict), one row per key.

    Writes go to a write-back cache that ``flush`` (called at every commit) writes in one
    transaction; the observed stream time is saved with them, so a reopened store rejects
    and answers exactly as before.
    """

    persistent = True

    def __init__(self, name: str, history_retention_ms: int,
                 segment_interval_ms: int | None = None) -> None:
        super().__init__(name, history_retention_ms, segment_interval_ms)
        self._db: Any = None
        self._dirty: dict[str, tuple[Any, list[list[Any]] | None]] = {}

    def init(self, directory: Path | None = None) -> None:
        from sqlitedict import SqliteDict

        super().init(directory)
        if directory is None:
            import tempfile

            directory = Path(tempfile.mkdtemp(prefix=f"streamnb-{self.name}-"))
        directory.mkdir(parents=True, exist_ok=True)
        self._db = SqliteDict(str(directory / "versions.sqlite"), tablename="versions",
                              autocommit=False)
        meta = self._db.get(_META)
        if meta is not None:
            self.observed_stream_time = meta

    def _load(self, key: Any) -> list[list[Any]] | None:
        self._check_open()
        ekey = _encode_key(key)
        cached = self._dirty.get(ekey)
        if cached is not None:
            return cached[1]
        stored = self._db.get(ekey)
        return None if stored is None else stored[1]

    def _save(self, key: Any, versions: list[list[Any]] | None) -> None:
        self._dirty[_encode_key(key)] = (key, versions)

    def _keys(self) -> list[Any]:
        self._check_open()
        keys = {ekey: kv[0] for ekey, kv in self._db.items() if ekey != _META}
        for ekey, (key, versions) in self._dirty.items():
            if versions is None:
                keys.pop(ekey, None)
            else:
                keys[ekey] = key
        return list(keys.values())

    def flush(self) -> None:
        if self._db is None:
            return
        for ekey, (key, versions) in self._dirty.items():
            if versions is None:
                if ekey in self._db:
                    del self._db[ekey]
            else:
                self._db[ekey] = (key, versions)
        self._db[_META] = self.observed_stream_time
        self._db.commit()
        self._dirty.clear()

    def close(self) -> None:
        if self._db is not None:
            self.flush()
            self._db.close()
            self._db = None
        self._open = False


class VersionedTableStore:
    """The view a DSL table node writes through: ``put(key, (value, ts) | None)`` and
    ``get(key) -> (value, ts) | None`` like a timestamped store, on a versioned store.

    It lets filter/map_values/join results be materialized as versioned stores with the
    same node code; ``last_put`` keeps the versioned put's return code for the caller.
    """

    kind = "versioned"

    def __init__(self, store: _VersionedBase, ctx: Any) -> None:
        self.store = store
        self.name = store.name
        self._ctx = ctx
        self.last_put = PUT_RETURN_CODE_VALID_TO_UNDEFINED

    def get(self, key: Any, as_of_timestamp: int | None = None) -> VersionedRecord | None:
        return self.store.get(key, as_of_timestamp)

    def put(self, key: Any, value_and_ts: Any) -> int:
        if value_and_ts is None:
            code = self.store.put(key, None, self._ctx.timestamp)
        else:
            code = self.store.put(key, value_and_ts[0], value_and_ts[1])
        self.last_put = code
        return code


__all__ = [
    "PUT_RETURN_CODE_NOT_PUT",
    "PUT_RETURN_CODE_VALID_TO_UNDEFINED",
    "InMemoryVersionedKeyValueStore",
    "PersistentVersionedKeyValueStore",
    "VersionedRecord",
    "VersionedTableStore",
]
