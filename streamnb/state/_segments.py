"""Time segments on disk for the persistent window and session stores.

Each segment (a span of ``segment_interval`` ms of window start / session end times) is one
sqlite file through sqlitedict, as Kafka keeps one RocksDB per segment: expiring old data is
deleting whole files, so the store's size stays flat as stream time moves on. Writes go to
an in-memory write-back map that ``flush`` (called at every commit) writes in one
transaction per segment; reads see unflushed writes.

Row keys are text that sorts like the store's order: ``<encoded key>\\x00<zero-padded times>``,
so a key's windows are one indexed range scan.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .persistent import (
    checkpoint_document,
    read_checkpoint_file,
    remove_checkpoint_file,
    write_checkpoint_file,
)

_DELETED = object()
_META = "\x01meta"


def encode_key(key: Any) -> str:
    """A canonical text form of ``key`` (``repr`` for plain values, pickle otherwise)."""
    if isinstance(key, (str, int, float, bytes)) or (
        isinstance(key, tuple) and all(isinstance(k, (str, int, float, bytes)) for k in key)
    ):
        return "r" + repr(key)
    return "p" + pickle.dumps(key, protocol=5).hex()


def pad(value: int) -> str:
    return f"{value:020d}"


class SqliteSegments:
    """Segments ``seg_id -> sqlite file`` with a write-back cache in front."""

    def __init__(self, directory: Path, segment_interval: int) -> None:
        self.directory = directory
        self.segment_interval = segment_interval
        directory.mkdir(parents=True, exist_ok=True)
        self._dbs: dict[int, Any] = {}
        self._dirty: dict[int, dict[str, Any]] = {}
        for path in directory.glob("segment-*.sqlite"):
            self._open(int(path.stem.split("-", 1)[1]))

    def _path(self, seg: int) -> Path:
        return self.directory / f"segment-{seg}.sqlite"

    def _open(self, seg: int) -> Any:
        from sqlitedict import SqliteDict

        db = self._dbs.get(seg)
        if db is None:
            db = self._dbs[seg] = SqliteDict(str(self._path(seg)), autocommit=False)
        return db

    def segment_of(self, timestamp: int) -> int:
        return timestamp // self.segment_interval

    def segments(self) -> list[int]:
        return sorted(set(self._dbs) | set(self._dirty))

    def get(self, seg: int, row: str) -> Any:
        dirty = self._dirty.get(seg)
        if dirty is not None:
            value = dirty.get(row)
            if value is not None:
                return None if value is _DELETED else value
        db = self._dbs.get(seg)
        return None if db is None else db.get(row)

    def put(self, seg: int, row: str, value: Any) -> None:
        """Write (``value`` None deletes) - kept in memory until ``flush``."""
        dirty = self._dirty.get(seg)
        if dirty is None:
            dirty = self._dirty[seg] = {}
        dirty[row] = _DELETED if value is None else value

    def scan(self, seg: int, low: str, high: str) -> list[tuple[str, Any]]:
        """Rows of ``seg`` with ``low <= row <= high``, in row order, unflushed writes included."""
        rows: dict[str, Any] = {}
        db = self._dbs.get(seg)
        if db is not None:
            query = f'SELECT key, value FROM "{db.tablename}" WHERE key >= ? AND key <= ?'
            for row, blob in db.conn.select(query, (low, high)):
                rows[row] = db.decode(blob)
        dirty = self._dirty.get(seg)
        if dirty:
            for row, value in dirty.items():
                if low <= row <= high:
                    if value is _DELETED:
                        rows.pop(row, None)
                    else:
                        rows[row] = value
        rows.pop(_META, None)
        return sorted(rows.items())

    def count(self, seg: int) -> int:
        return len(self.scan(seg, "", "\U0010ffff"))

    def drop_below(self, seg: int) -> None:
        """Delete every segment older than ``seg`` (files and unflushed writes)."""
        for old in [s for s in self.segments() if s < seg]:
            self._dirty.pop(old, None)
            db = self._dbs.pop(old, None)
            if db is not None:
                db.close()
            self._path(old).unlink(missing_ok=True)

    def read_meta(self) -> Any:
        metas = [db.get(_META) for db in self._dbs.values()]
        metas = [m for m in metas if m is not None]
        return max(metas) if metas else None

    def flush(self, meta: Any) -> None:
        for seg, dirty in self._dirty.items():
            db = self._open(seg)
            for row, value in dirty.items():
                if value is _DELETED:
                    if row in db:
                        del db[row]
                else:
                    db[row] = value
            db[_META] = meta
            db.commit()
        self._dirty.clear()

    def close(self, meta: Any) -> None:
        self.flush(meta)
        for db in self._dbs.values():
            db.close()
        self._dbs.clear()


class SegmentedLifecycle:
    """Expiry, size, flush, close and checkpoint of a store kept in ``SqliteSegments``
    (``self._db``), shared by the persistent window and session stores. Put it first in the
    bases.

    The checkpoint (``checkpoint.json`` in the store's directory, the key-value store's
    format) is written by ``flush`` after every segment committed its writes (sqlitedict's
    commits are synchronous), so it never vouches for data that is not on disk."""

    _db: SqliteSegments | None
    _pending_checkpoint: dict[str, Any] | None = None

    def _expire(self, min_live: int) -> None:
        if self._db is not None:
            # A segment is dropped once all of it is older than the retention.
            self._db.drop_below(self._db.segment_of(min_live))

    def approximate_num_entries(self) -> int:
        db = self._segments()  # type: ignore[attr-defined]
        return sum(db.count(seg) for seg in db.segments())

    def flush(self) -> None:
        if self._db is not None:
            self._db.flush(self.observed_stream_time)  # type: ignore[attr-defined]
            self._write_checkpoint()

    def close(self) -> None:
        if self._db is not None:
            self._db.close(self.observed_stream_time)  # type: ignore[attr-defined]
            self._write_checkpoint()
            self._db = None
        self._open = False

    def checkpoint(self, offsets: Mapping[Any, int]) -> None:
        """Vouch for the data up to ``offsets`` (changelog partition -> offset to resume
        restoring from); written at the next ``flush``, after the segments."""
        self._pending_checkpoint = checkpoint_document(self.name, offsets)  # type: ignore[attr-defined]

    def read_checkpoint(self) -> dict[Any, int] | None:
        """The offsets of the last written checkpoint, or ``None`` (none, or unreadable)."""
        return read_checkpoint_file(self._directory(), self.name)  # type: ignore[attr-defined]

    def clear_checkpoint(self) -> None:
        """Remove the checkpoint (and any pending one): the data vouches for no offset."""
        self._pending_checkpoint = None
        remove_checkpoint_file(self._directory())

    def _directory(self) -> Path:
        directory = getattr(self, "directory", None)
        if directory is None:
            raise ValueError(f"state store {self.name!r} has no directory yet; init it first")  # type: ignore[attr-defined]
        return Path(directory)

    def _write_checkpoint(self) -> None:
        if self._pending_checkpoint is not None:
            write_checkpoint_file(self._directory(), self._pending_checkpoint)
            self._pending_checkpoint = None
