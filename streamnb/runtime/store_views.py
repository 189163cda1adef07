"""Read-only views of a store over all its local tasks, and its DataFrame form.

A store exists once per task (partition); queries see the union, as Kafka's interactive
queries do on one instance. Each read takes the owning thread's lock, so it sees a store
between two batches, never half-way through one.
"""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from ..processor import KeyValue
from ..state._base import KeyValueIterator, ValueAndTimestamp, sort_key, sorted_items

Locate = Callable[[], list[tuple[Any, Any, int]]]


def _plain(store: Any, stored: Any) -> Any:
    """DSL stores keep (value, timestamp); queries return the value, as Kafka's facade."""
    if stored is not None and getattr(store, "timestamped", False):
        return stored[0]
    return stored


class CompositeStoreView:
    """``get`` / ``all`` / ``range`` / ``approximate_num_entries`` over every local task."""

    def __init__(self, name: str, locate: Locate) -> None:
        self.name = name
        self._locate = locate

    def get(self, key: Any) -> Any:
        for store, lock, _partition in self._locate():
            with lock:
                found = store.get(key)
            if found is not None:
                return _plain(store, found)
        return None

    def get_with_timestamp(self, key: Any) -> ValueAndTimestamp | None:
        for store, lock, _partition in self._locate():
            with lock:
                found = store.get(key)
            if found is not None and getattr(store, "timestamped", False):
                return ValueAndTimestamp(found[0], found[1])
        return None

    def _collect(self, method: str, *args: Any) -> list[tuple[Any, Any]]:
        pairs = []
        for store, lock, _partition in self._locate():
            with lock:
                pairs.extend((kv[0], _plain(store, kv[1])) for kv in getattr(store, method)(*args))
        return pairs

    def all(self) -> KeyValueIterator:
        return KeyValueIterator(sorted_items(self._collect("all")))

    def range(self, from_key: Any = None, to_key: Any = None) -> KeyValueIterator:
        return KeyValueIterator(sorted_items(self._collect("range", from_key, to_key)))

    def approximate_num_entries(self) -> int:
        total = 0
        for store, lock, _partition in self._locate():
            with lock:
                total += store.approximate_num_entries()
        return total

    def __getattr__(self, method: str) -> Any:
        """Other read methods (window ``fetch``, session ``fetch``...): results of all local
        stores, concatenated; single values: the first that is not None."""
        if method.startswith("_") or method in ("put", "delete", "put_all", "put_if_absent"):
            raise AttributeError(f"store view {self.name!r} is read-only: no {method}")

        def call(*args: Any, **kwargs: Any) -> Any:
            results = []
            for store, lock, _partition in self._locate():
                # Window and session stores keep (value, timestamp): read them through the
                # same plain-value view the test driver gives, as Kafka's read-only stores do.
                plain_view = getattr(store, "driver_view", None)
                target = plain_view(False) if plain_view is not None else store
                with lock:
                    result = getattr(target, method)(*args, **kwargs)
                    if not isinstance(result, (list, tuple, dict, type(None), int, float,
                                               str, bytes)):
                        result = list(result)  # iterate while holding the lock
                    if result is None or isinstance(result, (int, float, str, bytes, tuple)):
                        if result is not None:
                            return result
                        continue
                    results.extend(result)
            return results
        return call

    def __repr__(self) -> str:
        return f"<store view {self.name!r}>"


def store_frame(located: list[tuple[Any, Any, int]]) -> Any:
    """The entries of every located store as one DataFrame (see KafkaStreams.to_pandas)."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    windowed = False
    timestamped = False
    for store, lock, partition in located:
        ts_store = bool(getattr(store, "timestamped", False))
        with lock:
            entries = list(store.all())
        for entry in entries:
            key, value = (entry.key, entry.value) if isinstance(entry, KeyValue) else entry
            row: dict[str, Any] = {}
            window = getattr(key, "window", None)
            if window is not None:
                windowed = True
                row["key"] = key.key
                row["window_start"] = window.start
                row["window_end"] = window.end
            else:
                row["key"] = key
            if ts_store and isinstance(value, tuple) and len(value) == 2:
                timestamped = True
                row["value"], row["timestamp"] = value
            else:
                row["value"] = value
            row["partition"] = partition
            rows.append(row)
    columns = ["key", "value"]
    if windowed:
        columns += ["window_start", "window_end"]
    if timestamped:
        columns.append("timestamp")
    columns.append("partition")
    return pd.DataFrame(rows, columns=columns)


# -- bounded snapshots (what live views show) ---------------------------------------------

_NO_LOCK = contextlib.nullcontext()
_MAX_TIME = 2**63 - 1


@dataclass
class StoreSnapshot:
    """A bounded read of a store: at most ``limit`` entries, chosen as a live table shows
    them (top by value, or first by key, among keys containing ``key_filter``).

    ``rows`` are ``(key, value, partition)``; window and session stores give
    ``(key, value, partition, window_start, window_end)``. ``total`` counts the entries of
    every local instance read, ``matched`` those passing the filter.
    """

    name: str
    kind: str
    rows: list[tuple[Any, ...]]
    total: int
    matched: int

    @property
    def windowed(self) -> bool:
        return self.kind in ("window", "session")

    def to_frame(self) -> Any:
        """The rows as a DataFrame with ``to_pandas``' columns (times as epoch ms)."""
        import pandas as pd

        columns = ["key", "value", "partition"]
        if self.windowed:
            columns += ["window_start", "window_end"]
        frame = pd.DataFrame(self.rows, columns=columns)
        order = ["key", "value"] + (["window_start", "window_end"] if self.windowed else [])
        frame = frame[order + ["partition"]]
        frame.attrs.update(total_entries=self.total, matching_entries=self.matched)
        return frame


def _value_of(stored: Any, timestamped: bool) -> Any:
    if timestamped and isinstance(stored, tuple) and len(stored) == 2:
        return stored[0]
    return getattr(stored, "value", stored) if hasattr(stored, "valid_to") else stored


def _raw_pairs(store: Any, lock: Any, window_span_ms: int | None) -> list[tuple[Any, Any]]:
    """(key, stored value) pairs of one store instance, holding its thread's lock as briefly
    as possible: an in-memory key-value store is copied at C speed (``dict.copy``), a
    window store is read only for windows starting within ``window_span_ms`` of its stream
    time; other stores are iterated whole (under the lock, as ``to_pandas`` does)."""
    data = getattr(store, "_data", None)
    if type(data) is dict:
        with lock or _NO_LOCK:
            return list(data.copy().items())
    if type(getattr(store, "_dirty", None)) is dict and hasattr(store, "flushed_rows"):
        pairs = _sqlite_kv_pairs(store, lock)
        if pairs is not None:
            return pairs
    kind = getattr(store, "kind", "key_value")
    with lock or _NO_LOCK:
        if kind == "window" and window_span_ms is not None:
            newest = getattr(store, "observed_stream_time", -1)
            start = max(0, newest - window_span_ms) if newest >= 0 else 0
            return [(kv[0], kv[1]) for kv in store.fetch_all(start, _MAX_TIME)]
        return [(kv[0], kv[1]) for kv in store.all()]


def _sqlite_kv_pairs(store: Any, lock: Any) -> list[tuple[Any, Any]] | None:
    """A persistent (sqlite) key-value store's pairs, read outside the thread's lock: under
    it only the un-flushed writes are copied (a C-level dict copy) and a read transaction
    of a second connection is opened, which pins sqlite's state at that instant (WAL mode);
    the scan and unpickling run after the lock is released. None if the store has no file
    (then the caller reads it under the lock)."""
    import pickle
    import sqlite3

    from ..state.persistent import DB_FILE, TABLE

    directory = getattr(store, "directory", None)
    if directory is None:
        return None
    try:
        conn = sqlite3.connect(f"file:{directory / DB_FILE}?mode=ro", uri=True,
                               isolation_level=None, check_same_thread=False)
    except sqlite3.Error:
        return None
    try:
        with lock or _NO_LOCK:
            dirty = store._dirty.copy()
            conn.execute("BEGIN")
            rows = conn.execute(f'SELECT key, value FROM "{TABLE}"')
            first = rows.fetchmany(1)  # the first read fixes the transaction's snapshot
        loads = pickle.loads
        pairs = [loads(blob) for ekey, blob in (*first, *rows) if ekey not in dirty]
        conn.execute("COMMIT")
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    pairs.extend(entry for entry in dirty.values() if entry[1] is not None)
    return pairs


def _where_order(where: tuple[Any, Any, int]) -> tuple[Any, ...]:
    """Key order for (key, window or None, partition) that never raises on mixed keys."""
    return (sort_key(where[0]), where[1] or (), where[2])


def _ordered(items: list[tuple[Any, Any]], key: Callable[[Any], Any],
             fallback: Callable[[Any], Any], reverse: bool = False) -> None:
    try:
        items.sort(key=key, reverse=reverse)
    except TypeError:
        items.sort(key=fallback, reverse=reverse)


def _top(candidates: list[tuple[Any, Any]], limit: int, by: str) -> list[tuple[Any, Any]]:
    """The ``limit`` candidates ``((key, window, partition), value)`` with the largest
    values (ties in key order) or the first keys; O(n log limit), never a full sort."""
    if by == "key":
        try:
            return heapq.nsmallest(limit, candidates, key=lambda c: _where_order(c[0]))
        except TypeError:
            return heapq.nsmallest(limit, candidates,
                                   key=lambda c: (repr(c[0][0]), c[0][1] or (), c[0][2]))
    try:
        chosen = heapq.nlargest(limit, candidates, key=lambda c: c[1])
    except TypeError:  # values that do not compare (dicts, mixed types): by their text
        chosen = heapq.nlargest(limit, candidates, key=lambda c: str(c[1]))
    _ordered(chosen, lambda c: _where_order(c[0]),
             lambda c: (repr(c[0][0]), c[0][1] or (), c[0][2]))  # ties in key order...
    _ordered(chosen, lambda c: c[1], lambda c: str(c[1]), reverse=True)  # ...stable
    return chosen


def _matching(pairs: list[tuple[Any, Any]], text: str) -> list[tuple[Any, Any]]:
    """Pairs whose key (a windowed key's own key) contains ``text``, case-insensitively."""
    if not text:
        return pairs
    out = []
    for pair in pairs:
        key = pair[0]
        window = getattr(key, "window", None)
        plain = key.key if window is not None and hasattr(key, "key") else key
        if text in (plain.lower() if type(plain) is str else str(plain).lower()):
            out.append(pair)
    return out


def _local_top(pairs: list[tuple[Any, Any]], limit: int, by: str) -> list[tuple[Any, Any]]:
    """A first cut of one instance's entries down to ``limit`` with C-level key functions
    (stored ``(value, timestamp)`` pairs order by value first, as the plain values do); the
    exact order is made on the few survivors. Entries that do not compare are all kept for
    the careful pass."""
    if len(pairs) <= limit:
        return pairs
    try:
        if by == "key":
            return heapq.nsmallest(limit, pairs, key=itemgetter(0))
        return heapq.nlargest(limit, pairs, key=itemgetter(1))
    except TypeError:
        return pairs


def snapshot(name: str, located: list[tuple[Any, Any, int]], limit: int = 20,
             by: str = "value", key_filter: str | None = None,
             window_span_ms: int | None = None) -> StoreSnapshot:
    """A bounded ``StoreSnapshot`` of store ``name`` over its ``located`` instances; the
    selection (filter, top N) runs after the locks are released, mostly in C."""
    if by not in ("value", "key"):
        raise ValueError(f"by must be 'value' or 'key', got {by!r}")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        raise ValueError(f"limit must be a non-negative int, got {limit!r}")
    text = (key_filter or "").strip().lower()
    kind = "key_value"
    total = matched = 0
    candidates: list[tuple[Any, Any]] = []  # ((key, window or None, partition), value)
    for store, lock, partition in located:
        kind = getattr(store, "kind", "key_value")
        timestamped = bool(getattr(store, "timestamped", False))
        pairs = _raw_pairs(store, lock, window_span_ms)
        total += len(pairs)
        pairs = _matching(pairs, text)
        matched += len(pairs)
        if kind not in ("window", "session"):
            pairs = _local_top(pairs, limit, by)
        for key, stored in pairs:
            window = getattr(key, "window", None)
            plain_key = key.key if window is not None and hasattr(key, "key") else key
            where = (plain_key, None if window is None else (window.start, window.end),
                     partition)
            candidates.append((where, _value_of(stored, timestamped)))
    chosen = _top(candidates, limit, by)
    rows: list[tuple[Any, ...]] = []
    for (key, window, partition), value in chosen:
        row: tuple[Any, ...] = (key, value, partition)
        if kind in ("window", "session"):
            row += (window[0], window[1]) if window is not None else (None, None)
        rows.append(row)
    return StoreSnapshot(name, kind, rows, total, matched)
