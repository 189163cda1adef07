"""The persistent key-value store: sqlite on disk, a write-back cache in front.

Layout: the task passes ``state.dir/<application.id>/<task>/<store>`` to ``init``; the store
keeps ``store.sqlite`` (one table, ``kv``) and ``checkpoint.json`` there.

Why a write-back cache: a stream updates the same keys over and over, and a sqlite commit
per write costs far more than the record's processing. Writes land in an in-memory dirty map
(the last write per key wins) and reach sqlite in ONE transaction at ``flush()``, which the
task calls at every commit. If a commit interval piles up more than ``max_dirty_entries``
distinct keys, they are written early (in one transaction too) so memory stays bounded.
Reads look at the dirty map, then a bounded LRU cache of clean rows, then sqlite.

The table has sqlitedict's layout (``key TEXT PRIMARY KEY, value BLOB`` holding a pickle),
so ``sqlitedict.SqliteDict(path, tablename="kv", journal_mode="WAL")`` can open a store's
file for inspection (the file is in WAL mode; sqlitedict's default would switch it).
The store talks to sqlite through its own ``sqlite3`` connection rather than through
``SqliteDict``: sqlitedict sends every statement through a worker thread and a queue,
which measured ~145 us per read against ~12 us for a direct connection.

Keys are any hashable Python objects. Each row's text key is a canonical encoding of the
key (equal keys encode equally, as they hash equally in a dict, including 1 == 1.0 == True);
the row's value is ``pickle((key, value))`` so the original key comes back as it was.
Values are unpickled only from this store's own file, which the store creates in the
directory the task gives it: it refuses a file that is a symlink or belongs to another
user, and nothing a network peer sends is ever unpickled (changelog records arrive as
objects already decoded by their serdes and go through ``_restore``).
"""

from __future__ import annotations

import io
import json
import logging
import os
import pickle
import shutil
import sqlite3
import tempfile
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import InvalidStateStoreException, ProcessorStateException
from ._base import (
    ClosedStoreData,
    KeyValueIterator,
    StateStore,
    has_prefix,
    in_range,
    sorted_items,
)

__all__ = ["PersistentKeyValueStore"]

log = logging.getLogger("streamnb.state")

DB_FILE = "store.sqlite"
CHECKPOINT_FILE = "checkpoint.json"
TABLE = "kv"
_CHECKPOINT_VERSION = 1
_PICKLE_PROTOCOL = 5

_SELECT_ONE = f'SELECT value FROM "{TABLE}" WHERE key = ?'
_SELECT_ALL = f'SELECT key, value FROM "{TABLE}"'
_UPSERT = f'REPLACE INTO "{TABLE}" (key, value) VALUES (?, ?)'
_DELETE = f'DELETE FROM "{TABLE}" WHERE key = ?'
_COUNT = f'SELECT COUNT(*) FROM "{TABLE}"'
_IN_CHUNK = 500  # keys per "WHERE key IN (...)" query (sqlite's variable limit is >= 999)


# -- key encoding ---------------------------------------------------------------------------
def encode_key(key: Any) -> str:
    """The canonical text form of ``key`` that its sqlite row is stored under.

    Keys that are equal in a dict encode equally (``1``, ``1.0`` and ``True`` alike; a str
    subclass like its str). Unhashable keys raise ``TypeError``, as a dict does.
    """
    kind = type(key)
    if kind is str:
        return "s" + key
    if kind is int:
        return "i" + str(key)
    return _encode_other(key)


def _encode_other(key: Any) -> str:
    if isinstance(key, str):
        return "s" + str.__str__(key)
    if isinstance(key, int):  # bool and int subclasses: equal to the plain int
        return "i" + str(int(key))
    if isinstance(key, float):
        if key.is_integer():
            return "i" + str(int(key))
        return "f" + float.__repr__(key)
    if key is None:
        return "n"
    if isinstance(key, bytes):
        return "b" + bytes(key).hex()
    if isinstance(key, tuple):  # named tuples equal plain tuples, as in a dict
        parts = [encode_key(item) for item in key]
        return "t" + "".join(f"{len(p)}:{p}" for p in parts)
    if isinstance(key, frozenset):
        parts = sorted(encode_key(item) for item in key)
        return "z" + "".join(f"{len(p)}:{p}" for p in parts)
    hash(key)  # an unhashable key is an error, exactly as in a dict
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=_PICKLE_PROTOCOL)
    pickler.fast = True  # no memo: equal objects pickle to equal bytes
    try:
        pickler.dump(key)
    except Exception as exc:
        raise TypeError(
            f"key {key!r} of type {type(key).__name__} cannot be stored in a persistent store: "
            f"it cannot be pickled ({exc}); use str, int, bytes, tuple or picklable keys"
        ) from exc
    return "p" + buf.getvalue().hex()


# -- the store ------------------------------------------------------------------------------
class PersistentKeyValueStore(StateStore):
    """A key-value store in a sqlite file, with the in-memory store's interface and order.

    ``cache_entries`` bounds the read cache; ``max_dirty_entries`` bounds how many distinct
    keys wait for the next ``flush`` before they are written early.
    """

    persistent = True

    def __init__(self, name: str, cache_entries: int = 50_000,
                 max_dirty_entries: int = 100_000) -> None:
        super().__init__(name)
        if cache_entries < 0 or max_dirty_entries < 1:
            raise ValueError(
                f"store {name!r}: cache_entries must be >= 0 and max_dirty_entries >= 1, got "
                f"{cache_entries} and {max_dirty_entries}"
            )
        self.cache_entries = cache_entries
        self.max_dirty_entries = max_dirty_entries
        self._conn: sqlite3.Connection | None = None
        # encoded key -> (key, value); value None = a delete not yet written. Replaced by a
        # ClosedStoreData while closed, so that use of a closed store raises at no cost.
        self._dirty: Any = ClosedStoreData(self)
        # encoded key -> (key, value) of clean rows; value None = known absent.
        self._cache: OrderedDict[str, tuple[Any, Any]] = OrderedDict()
        self._pending_checkpoint: dict[str, Any] | None = None
        self._temp_dir: Path | None = None
        #: sqlite transactions committed by this instance (flushes and early writes).
        self.commit_count = 0

    # -- lifecycle --------------------------------------------------------------------------
    def init(self, directory: Path | None = None) -> None:
        """Open (or create) ``directory/store.sqlite``; without a directory, a private
        temporary one that ``close`` removes."""
        if self._conn is not None:
            raise InvalidStateStoreException(
                f"state store {self.name!r} is already open in {self.directory}; close it first"
            )
        if directory is None:
            self._temp_dir = Path(tempfile.mkdtemp(prefix=f"streamnb-{self.name}-"))
            directory = self._temp_dir
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = directory / DB_FILE
        _check_own_file(path, self.name)
        try:
            conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{TABLE}" (key TEXT PRIMARY KEY, value BLOB)'
            )
        except sqlite3.Error as exc:
            raise ProcessorStateException(
                f"state store {self.name!r}: cannot open {path} ({exc}); if the file is "
                "damaged, delete the store's directory and it will be restored from its "
                "changelog"
            ) from exc
        super().init(directory)
        self._conn = conn
        self._dirty = {}
        self._cache = OrderedDict()

    def flush(self) -> None:
        """Write every pending change in one sqlite transaction, then a pending checkpoint."""
        if self._conn is None:
            return
        if self._dirty:
            self._write_dirty()
        if self._pending_checkpoint is not None:
            self._write_checkpoint()

    def close(self) -> None:
        """Flush, close the sqlite file; a later ``init`` on the same directory sees the data."""
        if self._conn is None:
            self._open = False
            return
        try:
            self.flush()
        finally:
            self._conn.close()
            self._conn = None
            self._dirty = ClosedStoreData(self)
            self._cache = OrderedDict()
            self._open = False
            if self._temp_dir is not None:
                shutil.rmtree(self._temp_dir, ignore_errors=True)
                self._temp_dir = None

    def _write_dirty(self) -> None:
        dirty = self._dirty
        deletes = [(ekey,) for ekey, entry in dirty.items() if entry[1] is None]
        conn = self._conn
        assert conn is not None
        try:
            conn.execute("BEGIN")
            # A generator, so the pickled rows are never all in memory at once.
            conn.executemany(_UPSERT, self._pickled_rows())
            if deletes:
                conn.executemany(_DELETE, deletes)
            conn.execute("COMMIT")
        except BaseException as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise ProcessorStateException(
                    f"state store {self.name!r}: writing {len(dirty)} changes to "
                    f"{self.directory} failed ({exc}); they are kept in memory for the next "
                    "flush"
                ) from exc
            raise
        self.commit_count += 1
        # The rows just written are the likeliest to be read next: keep them as clean.
        cache = self._cache
        cap = self.cache_entries
        if cap:
            if len(dirty) >= cap:
                cache.clear()
                cache.update(list(dirty.items())[-cap:])
            else:
                cache.update(dirty)
                while len(cache) > cap:
                    cache.popitem(last=False)
        dirty.clear()

    def _pickled_rows(self) -> Iterator[tuple[str, bytes]]:
        dumps = pickle.dumps
        for ekey, entry in self._dirty.items():
            if entry[1] is None:
                continue
            try:
                blob = dumps(entry, _PICKLE_PROTOCOL)
            except Exception as exc:
                raise ProcessorStateException(
                    f"state store {self.name!r}: the value for key {entry[0]!r} cannot be "
                    f"pickled ({exc}); persistent stores keep values with pickle, so store "
                    "picklable values (or use an in-memory store). The pending writes are "
                    "kept, not lost."
                ) from exc
            yield ekey, blob

    # -- reads ------------------------------------------------------------------------------
    def get(self, key: Any) -> Any:
        """The value for ``key``, or ``None``."""
        ekey = encode_key(key)
        entry = self._dirty.get(ekey)
        if entry is None:
            entry = self._cache.get(ekey)
            if entry is None:
                return self._load(ekey, key)
            self._cache.move_to_end(ekey)
        return entry[1]

    def _load(self, ekey: str, key: Any) -> Any:
        conn = self._conn
        assert conn is not None  # a closed store failed at its dirty map already
        row = conn.execute(_SELECT_ONE, (ekey,)).fetchone()
        entry = (key, None) if row is None else pickle.loads(row[0])
        if self.cache_entries:
            cache = self._cache
            cache[ekey] = entry
            if len(cache) > self.cache_entries:
                cache.popitem(last=False)
        return entry[1]

    def _live_items(self) -> Iterator[tuple[Any, Any]]:
        """Every (key, value): sqlite's rows overlaid with the un-flushed writes."""
        self._check_open()
        dirty = self._dirty
        conn = self._conn
        assert conn is not None
        loads = pickle.loads
        for ekey, blob in conn.execute(_SELECT_ALL).fetchall():
            if ekey not in dirty:
                yield loads(blob)
        for entry in list(dirty.values()):
            if entry[1] is not None:
                yield entry

    def range(self, from_key: Any = None, to_key: Any = None) -> KeyValueIterator:
        """Entries with ``from_key <= key <= to_key`` in key order (``None`` = unbounded)."""
        return KeyValueIterator(
            sorted_items(kv for kv in self._live_items() if in_range(kv[0], from_key, to_key))
        )

    def flushed_rows(self, low: str | None, low_inclusive: bool, high: str | None,
                     high_inclusive: bool, descending: bool, limit: int
                     ) -> list[tuple[str, tuple[Any, Any]]]:
        """Up to ``limit`` rows already in sqlite whose encoded key lies between ``low`` and
        ``high`` (``None``: unbounded), in encoded-key order: ``(encoded key, (key, value))``.

        One indexed read, O(log n + limit): what paged queries resume from. Un-flushed
        writes are NOT applied; the caller overlays ``_dirty``."""
        self._check_open()
        conn = self._conn
        assert conn is not None
        where, args = [], []
        if low is not None:
            where.append("key >= ?" if low_inclusive else "key > ?")
            args.append(low)
        if high is not None:
            where.append("key <= ?" if high_inclusive else "key < ?")
            args.append(high)
        sql = (f'SELECT key, value FROM "{TABLE}"'
               + (" WHERE " + " AND ".join(where) if where else "")
               + f" ORDER BY key {'DESC' if descending else 'ASC'} LIMIT ?")
        loads = pickle.loads
        return [(ekey, loads(blob)) for ekey, blob in conn.execute(sql, (*args, limit))]

    def reverse_range(self, from_key: Any = None, to_key: Any = None) -> KeyValueIterator:
        return KeyValueIterator(
            sorted_items(
                (kv for kv in self._live_items() if in_range(kv[0], from_key, to_key)),
                reverse=True,
            )
        )

    def all(self) -> KeyValueIterator:
        """Every entry, in key order."""
        return KeyValueIterator(sorted_items(self._live_items()))

    def reverse_all(self) -> KeyValueIterator:
        return KeyValueIterator(sorted_items(self._live_items(), reverse=True))

    def prefix_scan(self, prefix: Any) -> KeyValueIterator:
        """Entries whose str/bytes/tuple key starts with ``prefix``, in key order."""
        return KeyValueIterator(
            sorted_items(kv for kv in self._live_items() if has_prefix(kv[0], prefix))
        )

    def approximate_num_entries(self) -> int:
        """The number of entries (exact: sqlite's rows corrected by the pending writes)."""
        self._check_open()
        conn = self._conn
        assert conn is not None
        count = conn.execute(_COUNT).fetchone()[0]
        dirty = self._dirty
        if not dirty:
            return count
        ekeys = list(dirty)
        on_disk: set[str] = set()
        for i in range(0, len(ekeys), _IN_CHUNK):
            chunk = ekeys[i:i + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            on_disk.update(row[0] for row in conn.execute(
                f'SELECT key FROM "{TABLE}" WHERE key IN ({marks})', chunk))
        for ekey, entry in dirty.items():
            if entry[1] is None:
                count -= ekey in on_disk
            else:
                count += ekey not in on_disk
        return count

    # -- writes -----------------------------------------------------------------------------
    def put(self, key: Any, value: Any) -> None:
        """Store ``value`` under ``key``; a ``None`` value deletes the key."""
        if key is None:
            raise ValueError(f"store {self.name!r}: keys must not be None")
        dirty = self._dirty
        dirty[encode_key(key)] = (key, value)
        if len(dirty) >= self.max_dirty_entries:
            self._write_dirty()
        logger = self._change_logger
        if logger is not None:
            logger(key, value)

    def put_if_absent(self, key: Any, value: Any) -> Any:
        """Store ``value`` only when ``key`` has none; return the previous value."""
        old = self.get(key)
        if old is None:
            self.put(key, value)
        return old

    def put_all(self, entries: Iterable[tuple[Any, Any]]) -> None:
        for key, value in entries:
            self.put(key, value)

    def delete(self, key: Any) -> Any:
        """Remove ``key`` and return its old value (or ``None``)."""
        old = self.get(key)
        self.put(key, None)
        return old

    def _restore(self, key: Any, value: Any) -> None:
        """Apply a changelog record without logging it again."""
        dirty = self._dirty
        dirty[encode_key(key)] = (key, value)
        if len(dirty) >= self.max_dirty_entries:
            self._write_dirty()

    # -- checkpoint -------------------------------------------------------------------------
    def checkpoint(self, offsets: Mapping[Any, int]) -> None:
        """Record that the store's data is consistent up to ``offsets``; written at the next
        ``flush``, after the data (made durable on disk first).

        ``offsets`` maps a changelog partition to the offset restoration should resume
        from: keys are a topic name (str) or a ``(topic, partition)`` tuple, values ints.
        Under exactly-once the runtime should ``clear_checkpoint()`` before it writes again,
        as Kafka does, and checkpoint only at a clean commit or close.
        """
        self._pending_checkpoint = checkpoint_document(self.name, offsets)

    def read_checkpoint(self) -> dict[Any, int] | None:
        """The offsets of the last written checkpoint, or ``None`` if there is none (or it
        is unreadable: then nothing vouches for the data, and restoration starts over)."""
        if self.directory is None:
            raise InvalidStateStoreException(
                f"state store {self.name!r} has no directory yet; init it first"
            )
        return read_checkpoint_file(self.directory, self.name)

    def clear_checkpoint(self) -> None:
        """Remove the checkpoint (and any pending one): the data vouches for no offset."""
        self._pending_checkpoint = None
        if self.directory is not None:
            remove_checkpoint_file(self.directory)

    def _write_checkpoint(self) -> None:
        conn = self._conn
        assert conn is not None and self.directory is not None
        # WAL mode with synchronous=NORMAL does not fsync each commit: sync the WAL and copy
        # it into the database before the checkpoint vouches for the data.
        busy = conn.execute("PRAGMA wal_checkpoint(FULL)").fetchone()[0]
        if busy:
            raise ProcessorStateException(
                f"state store {self.name!r}: sqlite could not sync {self.directory} for the "
                "checkpoint (database busy); the checkpoint is kept for the next flush"
            )
        write_checkpoint_file(self.directory, self._pending_checkpoint)
        self._pending_checkpoint = None


# -- checkpoint files (also used by the segmented stores and the runtime) -------------------
def checkpoint_document(store: str, offsets: Mapping[Any, int]) -> dict[str, Any]:
    """The JSON document of a checkpoint of ``store`` at ``offsets`` (see ``checkpoint``);
    raises ``TypeError`` for a key or offset of the wrong type."""
    entries = []
    for tp, offset in offsets.items():
        if isinstance(tp, str):
            topic, partition = tp, None
        elif (isinstance(tp, tuple) and len(tp) == 2 and isinstance(tp[0], str)
              and isinstance(tp[1], int) and not isinstance(tp[1], bool)):
            topic, partition = tp
        else:
            raise TypeError(
                f"store {store!r}: checkpoint keys must be a topic name or a "
                f"(topic, partition) tuple, got {tp!r}"
            )
        if not isinstance(offset, int) or isinstance(offset, bool):
            raise TypeError(
                f"store {store!r}: checkpoint offset for {tp!r} must be an int, "
                f"got {offset!r}"
            )
        entries.append({"topic": topic, "partition": partition, "offset": offset})
    return {"version": _CHECKPOINT_VERSION, "store": store, "offsets": entries}


def read_checkpoint_file(directory: Path, store: str) -> dict[Any, int] | None:
    """The offsets in ``directory/checkpoint.json``; ``None`` when there is no such file
    or it is unreadable (logged: nothing vouches for the data, restoration starts over).
    The runtime reads it before it opens the store, to decide whether to keep the data."""
    path = Path(directory) / CHECKPOINT_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("state store %r: cannot read checkpoint %s (%s)", store, path, exc)
        return None
    try:
        data = json.loads(text)
        if data.get("version") != _CHECKPOINT_VERSION:
            raise ValueError(f"unknown checkpoint version {data.get('version')!r}")
        result: dict[Any, int] = {}
        for entry in data["offsets"]:
            partition = entry["partition"]
            key = entry["topic"] if partition is None else (entry["topic"], partition)
            result[key] = int(entry["offset"])
        return result
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("state store %r: ignoring unreadable checkpoint %s (%s)", store, path, exc)
        return None


def write_checkpoint_file(directory: Path, document: Mapping[str, Any]) -> None:
    """Write a checkpoint document (``checkpoint_document``) atomically and durably. The
    caller makes the data it vouches for durable first."""
    _write_atomically(Path(directory) / CHECKPOINT_FILE, json.dumps(document, indent=1))


def remove_checkpoint_file(directory: Path) -> None:
    """Delete ``directory/checkpoint.json`` if it exists."""
    try:
        (Path(directory) / CHECKPOINT_FILE).unlink()
    except FileNotFoundError:
        pass


def _check_own_file(path: Path, store: str) -> None:
    """Refuse a store file that is not ours: a symlink (it could point anywhere) or a file
    owned by another user. Values are unpickled from this file, so it must be the store's."""
    if path.is_symlink():
        raise ProcessorStateException(
            f"state store {store!r}: {path} is a symlink; a store only opens the files it "
            "created. Remove the link (the store is restored from its changelog)."
        )
    if not path.exists():
        return
    if not path.is_file():
        raise ProcessorStateException(
            f"state store {store!r}: {path} is not a regular file; remove it"
        )
    getuid = getattr(os, "getuid", None)
    if getuid is not None and path.stat().st_uid != getuid():
        raise ProcessorStateException(
            f"state store {store!r}: {path} belongs to another user; a store only opens "
            "files it created. Use a state.dir of your own."
        )


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file, fsync it, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if hasattr(os, "O_DIRECTORY"):
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
