"""Paged range reads whose cost per page is O(log n + page), not O(n).

A paged walk resumes from the last key of the previous page (the cursor ``after``):

* in-memory stores (a dict): a sorted snapshot of the keys, built once per store version
  and reused by every page; a page is a bisect to the cursor plus ``limit`` dict reads.
  Values are read live, so a page never shows a value older than the store's; keys
  deleted since the snapshot are skipped. As in Kafka's in-memory store, whose iterators
  walk a copy of the key set taken when they open, the key set may lag the store: the
  snapshot is rebuilt when the store's version (entry count, input position) moved, but
  at most once per ``REBUILD_FACTOR`` x its build time, so a stream of range queries on a
  million keys cannot spend the process's time sorting. A query with a position bound
  always gets a snapshot at least as fresh as the bound.
* persistent (sqlite) stores: ``WHERE key > ? ORDER BY key LIMIT n`` on the encoded keys,
  overlaid with the writes not flushed yet, when the encoded order equals Python's order
  (str and bytes keys); int keys (whose text encoding does not sort numerically) walk a
  sorted list of the store's int keys kept exact by reading the rows written since
  (``int_page``); other key types take the generic path.
* anything else (or keys that do not compare): one scan keeping the page
  (``heapq.nsmallest``), which is O(n) but never sorts or copies the whole store.

The dict snapshot needs no lock: ``list(dict)`` and ``dict.get`` are atomic under the GIL,
so the stream thread is never blocked by a range query on an in-memory store.
"""

from __future__ import annotations

import bisect
import heapq
import threading
import time
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager
from operator import itemgetter
from typing import Any

from ..errors import InvalidStateStoreException
from ..state._base import in_range, sort_key
from .queries import NO_CURSOR

#: A snapshot is rebuilt no sooner than this many times its own build time after the last.
REBUILD_FACTOR = 10.0
#: An unchanged-looking store still gets a fresh snapshot after this many seconds.
MAX_AGE_S = 30.0


class _Snapshot:
    """The sorted keys of one dict at one store version."""

    __slots__ = ("data", "keys", "version", "built_at", "cost")

    def __init__(self, data: dict[Any, Any], keys: list[Any] | None, version: Any,
                 cost: float) -> None:
        self.data = data
        self.keys = keys  # None: the keys do not compare (mixed types): generic path
        self.version = version
        self.built_at = time.monotonic()
        self.cost = cost


_snapshots: weakref.WeakKeyDictionary[Any, _Snapshot] = weakref.WeakKeyDictionary()
_build_lock = threading.Lock()
#: Snapshots built so far (tests and the benchmark read it to see reuse).
stats = {"builds": 0}


def _snapshot(store: Any, data: dict[Any, Any], version: Any, fresh: bool) -> _Snapshot:
    with _build_lock:
        snap = _snapshots.get(store)
        if snap is not None and snap.data is data:
            if snap.version == version:
                age = time.monotonic() - snap.built_at
                if age < MAX_AGE_S or age < REBUILD_FACTOR * snap.cost:
                    return snap
            elif not fresh and (time.monotonic() - snap.built_at
                                < REBUILD_FACTOR * snap.cost):
                return snap
        started = time.perf_counter()
        keys: list[Any] | None = list(data)  # atomic under the GIL: no lock needed
        try:
            keys.sort()  # type: ignore[union-attr]
        except TypeError:
            keys = None
        snap = _Snapshot(data, keys, version, time.perf_counter() - started)
        _snapshots[store] = snap
        stats["builds"] += 1
        return snap


def dict_page(store: Any, data: dict[Any, Any], lower: Any, upper: Any, descending: bool,
              after: Any, limit: int | None, version: Any = None, fresh: bool = False
              ) -> list[tuple[Any, Any]] | None:
    """The page from the sorted snapshot, or None when the keys (or the bounds against
    them) do not compare; the caller then takes the generic path."""
    snap = _snapshot(store, data, (len(data), version), fresh)
    keys = snap.keys
    if keys is None:
        return None
    get = data.get
    out: list[tuple[Any, Any]] = []
    want = len(keys) if limit is None else limit
    try:
        if not descending:
            i = 0 if lower is None else bisect.bisect_left(keys, lower)
            if after is not NO_CURSOR:
                i = max(i, bisect.bisect_right(keys, after))
            end = len(keys) if upper is None else bisect.bisect_right(keys, upper)
            while i < end and len(out) < want:
                key = keys[i]
                value = get(key)
                if value is not None:
                    out.append((key, value))
                i += 1
        else:
            i = len(keys) if upper is None else bisect.bisect_right(keys, upper)
            if after is not NO_CURSOR:
                i = min(i, bisect.bisect_left(keys, after))
            end = 0 if lower is None else bisect.bisect_left(keys, lower)
            while i > end and len(out) < want:
                i -= 1
                key = keys[i]
                value = get(key)
                if value is not None:
                    out.append((key, value))
    except TypeError:  # a bound or cursor of another type than the keys
        return None
    return out


# -- persistent stores --------------------------------------------------------------------
_FAMILIES: dict[type, tuple[str, Callable[[Any], str]]] = {
    str: ("s", lambda k: "s" + str.__str__(k)),
    bytes: ("b", lambda k: "b" + bytes(k).hex()),
}


def _family(value: Any) -> tuple[str, Callable[[Any], str]] | None:
    for kind, family in _FAMILIES.items():
        if isinstance(value, kind):
            return family
    return None


def sql_page(store: Any, lock: AbstractContextManager[Any], lower: Any, upper: Any,
             descending: bool, after: Any, limit: int | None) -> list[tuple[Any, Any]] | None:
    """A page of a persistent store read by encoded key; None when its keys are not all
    str (or all bytes) for this query, where encoded order differs from Python's."""
    rows = getattr(store, "flushed_rows", None)
    if rows is None or limit is None:
        return None
    given = [v for v in (lower, upper) if v is not None]
    if after is not NO_CURSOR:
        given.append(after)
    if all(type(v) is int for v in given) and _int_only(store, lock):
        return int_page(store, lock, lower, upper, descending, after, limit)
    families = {_family(v) for v in given}
    if len(families) > 1 or None in families:
        return None
    with lock:
        family = families.pop() if families else _only_family(store)
        if family is None:
            return None
        prefix, encode = family
        if lower is None and upper is None and not _only(store, prefix):
            return None  # other key types: Python's mixed order applies
        return _sql_page(store, prefix, encode, lower, upper, descending, after, limit)


def _only_family(store: Any) -> tuple[str, Callable[[Any], str]] | None:
    for family in _FAMILIES.values():
        if _only(store, family[0]):
            return family
    return None


def _only(store: Any, prefix: str) -> bool:
    """Whether every key of the store (flushed or not) is of the family ``prefix``."""
    nxt = chr(ord(prefix) + 1)
    if store.flushed_rows(None, True, prefix, False, False, 1):
        return False
    if store.flushed_rows(nxt, True, None, True, False, 1):
        return False
    return all(ekey[:1] == prefix for ekey in store._dirty)


def _sql_page(store: Any, prefix: str, encode: Callable[[Any], str], lower: Any, upper: Any,
              descending: bool, after: Any, limit: int) -> list[tuple[Any, Any]]:
    low, low_in = (encode(lower), True) if lower is not None else (prefix, True)
    high, high_in = (encode(upper), True) if upper is not None else (
        chr(ord(prefix) + 1), False)
    if after is not NO_CURSOR:
        mark = encode(after)
        if descending and (mark < high or (mark == high and high_in)):
            high, high_in = mark, False
        elif not descending and (mark > low or (mark == low and low_in)):
            low, low_in = mark, False
    if low > high or (low == high and not (low_in and high_in)):
        return []
    dirty = store._dirty
    # un-flushed writes in range: the newest state of those keys
    pending = [(ekey, entry) for ekey, entry in dirty.items()
               if (ekey > low or (low_in and ekey == low))
               and (ekey < high or (high_in and ekey == high))]
    pick = heapq.nlargest if descending else heapq.nsmallest
    pending = pick(limit, pending, key=itemgetter(0))
    clean: list[tuple[str, tuple[Any, Any]]] = []
    cur_low, cur_low_in, cur_high, cur_high_in = low, low_in, high, high_in
    while len(clean) < limit:
        batch = store.flushed_rows(cur_low, cur_low_in, cur_high, cur_high_in, descending,
                                   limit)
        clean.extend(row for row in batch if row[0] not in dirty)
        if len(batch) < limit:
            break
        if descending:
            cur_high, cur_high_in = batch[-1][0], False
        else:
            cur_low, cur_low_in = batch[-1][0], False
    merged = clean[:limit] + [row for row in pending if row[1][1] is not None]
    merged.sort(key=itemgetter(0), reverse=descending)
    return [entry for _ekey, entry in merged[:limit]]


# -- int keys in a persistent store -------------------------------------------------------
# Rows hold int keys as "i" + decimal text, whose text order is not numeric ("i10" < "i9").
# Pages must follow the documented order (Python's, as in-memory stores and ``range`` give),
# so the int keys are kept in a sorted list built once per store, and kept EXACT without
# rebuilding: sqlite gives a written row a rowid above every existing one, so the rows
# written since are ``rowid > seen`` (an index read). The row at ``seen`` is checked on
# every page: if it was deleted or replaced by another key, rowids may have been reused
# and the list is rebuilt.
_INT_CHUNK = 50_000  # keys read per statement while building (the lock is let go between)


class _IntKeys:
    __slots__ = ("conn", "keys", "new", "new_sorted", "seen", "seen_key")

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.keys: list[int] = []  # sorted: the int keys when built
        self.new: set[int] = set()  # int keys written since that are not in ``keys``
        self.new_sorted: list[int] = []
        self.seen = 0  # the highest rowid read
        self.seen_key: str | None = None  # the key of that row then


_int_keys: weakref.WeakKeyDictionary[Any, _IntKeys] = weakref.WeakKeyDictionary()


def _int_only(store: Any, lock: AbstractContextManager[Any]) -> bool:
    if getattr(store, "_conn", None) is None:
        return False
    with lock:
        return _only(store, "i")


def _sql(store: Any, sql: str, args: tuple[Any, ...]) -> list[Any]:
    from ..state.persistent import TABLE

    return store._conn.execute(sql.replace("{T}", f'"{TABLE}"'), args).fetchall()


def _top_intact(store: Any, snap: _IntKeys) -> bool:
    row = _sql(store, "SELECT key FROM {T} WHERE rowid = ?", (snap.seen,))
    return (row[0][0] if row else None) == snap.seen_key


def _build_int_keys(store: Any, lock: AbstractContextManager[Any]) -> _IntKeys:
    with lock:
        snap = _IntKeys(store._conn)
        top = _sql(store, "SELECT rowid, key FROM {T} ORDER BY rowid DESC LIMIT 1", ())
        if top:
            snap.seen, snap.seen_key = top[0]
    keys: list[int] = []
    mark = "i"
    while True:  # in chunks, letting the stream thread in between
        with lock:
            if store._conn is not snap.conn:
                raise InvalidStateStoreException(
                    f"store {store.name!r} was closed while a range query read its keys; "
                    "retry once it is open again")
            chunk = _sql(store, "SELECT key FROM {T} WHERE key > ? AND key < 'j' "
                         "ORDER BY key LIMIT ?", (mark, _INT_CHUNK))
        keys.extend(int(ekey[1:]) for (ekey,) in chunk)
        if len(chunk) < _INT_CHUNK:
            break
        mark = chunk[-1][0]
    keys.sort()
    snap.keys = keys
    stats["builds"] += 1
    return snap


def _catch_up(store: Any, snap: _IntKeys) -> bool:
    """Add the int keys of rows written since the last look; False: rebuild instead."""
    if store._conn is not snap.conn or not _top_intact(store, snap):
        return False
    rows = _sql(store, "SELECT rowid, key FROM {T} WHERE rowid > ? ORDER BY rowid",
                (snap.seen,))
    if rows:
        keys, new = snap.keys, snap.new
        before = len(new)
        for _rowid, ekey in rows:
            if ekey[:1] == "i":
                key = int(ekey[1:])
                i = bisect.bisect_left(keys, key)
                if i == len(keys) or keys[i] != key:
                    new.add(key)
        snap.seen, snap.seen_key = rows[-1]
        if len(new) != before:
            snap.new_sorted = sorted(new)
    return len(snap.new) <= max(10_000, len(snap.keys) // 4)


def _slice(keys: list[int], low: int | None, high: int | None, descending: bool) -> Any:
    i = 0 if low is None else bisect.bisect_left(keys, low)
    j = len(keys) if high is None else bisect.bisect_right(keys, high)
    steps = range(j - 1, i - 1, -1) if descending else range(i, j)
    return (keys[k] for k in steps)


def int_page(store: Any, lock: AbstractContextManager[Any], lower: Any, upper: Any,
             descending: bool, after: Any, limit: int) -> list[tuple[Any, Any]]:
    """A page of a persistent store whose keys are all ints, in numeric order."""
    snap = _int_keys.get(store)
    with lock:
        fresh = snap is not None and _catch_up(store, snap)
    if not fresh:
        snap = _build_int_keys(store, lock)
        with lock:
            _catch_up(store, snap)
        _int_keys[store] = snap
    assert snap is not None
    low, high = lower, upper
    if after is not NO_CURSOR:
        if descending:
            high = after - 1 if high is None else min(high, after - 1)
        else:
            low = after + 1 if low is None else max(low, after + 1)
    if low is not None and high is not None and low > high:
        return []
    out: list[tuple[Any, Any]] = []
    with lock:
        pending = sorted(int(ekey[1:]) for ekey in store._dirty if ekey[:1] == "i")
        sources = [_slice(snap.keys, low, high, descending),
                   _slice(snap.new_sorted, low, high, descending),
                   _slice(pending, low, high, descending)]
        last = None
        get = store.get
        for key in heapq.merge(*sources, reverse=descending):
            if key == last:
                continue
            last = key
            value = get(key)
            if value is not None:
                out.append((key, value))
                if len(out) >= limit:
                    break
    return out


# -- the generic path ---------------------------------------------------------------------
def scan_page(store: Any, lock: AbstractContextManager[Any], lower: Any, upper: Any,
              descending: bool, after: Any, limit: int) -> list[tuple[Any, Any]]:
    """One pass over the store keeping only the page (any backend, any key types)."""
    data = getattr(store, "_data", None)
    if type(data) is dict:
        keys = list(data)
        chosen = _select(keys, _same, lower, upper, descending, after, limit)
        get = data.get
        return [(key, value) for key in chosen if (value := get(key)) is not None]
    with lock:
        items = getattr(store, "_live_items", None)
        pairs = list(items() if items is not None else store.all())
    return _select(pairs, itemgetter(0), lower, upper, descending, after, limit)


def _same(key: Any) -> Any:
    return key


def _select(items: list[Any], key_of: Callable[[Any], Any], lower: Any, upper: Any,
            descending: bool, after: Any, limit: int) -> list[Any]:
    try:
        return _pick(items, key_of, lower, upper, descending, after, limit, False)
    except TypeError:  # keys of several types: order by (type name, key), never crash
        return _pick(items, key_of, lower, upper, descending, after, limit, True)


def _pick(items: list[Any], key_of: Callable[[Any], Any], lower: Any, upper: Any,
          descending: bool, after: Any, limit: int, mixed: bool) -> list[Any]:
    if lower is not None or upper is not None:
        items = [it for it in items if in_range(key_of(it), lower, upper)]
    order = (lambda it: sort_key(key_of(it))) if mixed else key_of
    if after is not NO_CURSOR:
        mark = sort_key(after) if mixed else after
        items = ([it for it in items if order(it) < mark] if descending
                 else [it for it in items if order(it) > mark])
    pick = heapq.nlargest if descending else heapq.nsmallest
    return pick(limit, items, key=order)


def range_page(store: Any, lock: AbstractContextManager[Any], lower: Any, upper: Any,
               descending: bool, after: Any, limit: int | None, version: Any = None,
               fresh: bool = False) -> list[tuple[Any, Any]] | None:
    """At most ``limit`` (None: all) entries of ``[lower, upper]`` strictly after the
    cursor ``after`` in the query's order; None when only the store's own ``range`` fits
    (no limit, and neither a dict nor a sortable snapshot)."""
    data = getattr(store, "_data", None)
    if type(data) is dict:
        page = dict_page(store, data, lower, upper, descending, after, limit, version, fresh)
        if page is not None:
            return page
    elif limit is not None:
        page = sql_page(store, lock, lower, upper, descending, after, limit)
        if page is not None:
            return page
    if limit is None:
        return None
    return scan_page(store, lock, lower, upper, descending, after, limit)


__all__ = ["MAX_AGE_S", "REBUILD_FACTOR", "dict_page", "range_page", "scan_page", "sql_page",
           "stats", "int_page"]
