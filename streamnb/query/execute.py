"""Run one query against one store partition (the store side of IQv2).

Every read holds the owning stream thread's lock only as long as it must: a key lookup for
one dict access, a paged range for a snapshot of the key references (not of the values),
so a query over a million keys does not stall processing for the whole scan.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from operator import itemgetter
from typing import Any

from ..processor import KeyValue
from ..state._base import ValueAndTimestamp, in_range, sort_key
from ..state.versioned import VersionedRecord
from .queries import (
    NO_CURSOR,
    KeyQuery,
    MultiVersionedKeyQuery,
    Query,
    RangeQuery,
    ResultOrder,
    TimestampedKeyQuery,
    TimestampedRangeQuery,
    VersionedKeyQuery,
    WindowKeyQuery,
    WindowRangeQuery,
)

_MAX_TIME = 2**63 - 1


class UnsupportedQuery(Exception):
    """The store cannot answer this query type (-> FailureReason.UNKNOWN_QUERY_TYPE)."""


def store_kind(store: Any) -> str:
    return getattr(store, "kind", "key_value")


def check_supported(store: Any, query: Query) -> None:
    kind = store_kind(store)
    if kind not in query.store_kinds:
        raise UnsupportedQuery(
            f"{type(query).__name__} cannot run on store {store.name!r}, a {kind} store; "
            f"it needs a {' or '.join(query.store_kinds)} store ({_hint(kind)})")
    if isinstance(query, (TimestampedKeyQuery, TimestampedRangeQuery)) and not getattr(
            store, "timestamped", False):
        raise UnsupportedQuery(
            f"store {store.name!r} keeps no timestamps; use KeyQuery / RangeQuery on it")


def _hint(kind: str) -> str:
    return {
        "key_value": "use KeyQuery or RangeQuery",
        "window": "use WindowKeyQuery or WindowRangeQuery",
        "session": "use WindowRangeQuery.with_key",
        "versioned": "use VersionedKeyQuery or MultiVersionedKeyQuery",
    }.get(kind, "see the store's kind")


def run(store: Any, lock: AbstractContextManager[Any], query: Query) -> Any:
    """The result of ``query`` on ``store`` (raises UnsupportedQuery or the store's error)."""
    check_supported(store, query)
    plain = _unwrap(store)
    if isinstance(query, KeyQuery):
        with lock:
            stored = store.get(query.key)
        return plain(stored)
    if isinstance(query, TimestampedKeyQuery):
        with lock:
            stored = store.get(query.key)
        return None if stored is None else ValueAndTimestamp(stored[0], stored[1])
    if isinstance(query, RangeQuery):
        return _range(store, lock, query)
    if isinstance(query, WindowKeyQuery):
        with lock:
            rows = list(store.fetch(query.key, query.time_from, query.time_to))
        return [KeyValue(start, plain(value)) for start, value in rows]
    if isinstance(query, WindowRangeQuery):
        return _window_range(store, lock, query, plain)
    if isinstance(query, VersionedKeyQuery):
        with lock:
            return store.get(query.key, query.as_of_timestamp)
    if isinstance(query, MultiVersionedKeyQuery):
        with lock:
            versions = store.versions(query.key)
        return _versions_in(versions, query)
    raise UnsupportedQuery(f"unknown query type {type(query).__name__}")


def _unwrap(store: Any) -> Callable[[Any], Any]:
    """DSL stores keep ``(value, timestamp)``; IQv2's plain queries return the value."""
    if getattr(store, "timestamped", False) and store_kind(store) in ("key_value", "window"):
        return lambda stored: None if stored is None else stored[0]
    return lambda stored: stored


# -- ranges ------------------------------------------------------------------------------
def _range(store: Any, lock: AbstractContextManager[Any], query: RangeQuery) -> list[KeyValue]:
    timestamped = isinstance(query, TimestampedRangeQuery)
    plain = _unwrap(store)
    if query.limit is None:
        with lock:
            method = store.reverse_range if query.descending else store.range
            pairs = list(method(query.lower, query.upper))
    else:
        pairs = range_page(store, lock, query.lower, query.upper, query.descending,
                           query.after, query.limit)
    if timestamped:
        return [KeyValue(k, ValueAndTimestamp(v[0], v[1])) for k, v in pairs]
    return [KeyValue(k, plain(v)) for k, v in pairs]


def range_page(store: Any, lock: AbstractContextManager[Any], lower: Any, upper: Any,
               descending: bool, after: Any, limit: int) -> list[tuple[Any, Any]]:
    """At most ``limit`` entries of ``[lower, upper]`` strictly after the cursor ``after``
    (in the query's order), without sorting or copying the whole store."""
    data = getattr(store, "_data", None)
    if isinstance(data, dict):  # in-memory store: snapshot key references, then filter
        with lock:
            keys = list(data)
        chosen = _select(keys, _same, lower, upper, descending, after, limit)
        out = []
        with lock:
            get = data.get
            for key in chosen:
                value = get(key)
                if value is not None:  # deleted since the snapshot
                    out.append((key, value))
        return out
    with lock:  # other backends: one scan under the lock, keeping only the page
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


# -- windows and versions ----------------------------------------------------------------
def _window_range(store: Any, lock: AbstractContextManager[Any], query: WindowRangeQuery,
                  plain: Callable[[Any], Any]) -> list[KeyValue]:
    kind = store_kind(store)
    if kind == "session":
        if query.key is None:
            raise UnsupportedQuery(
                f"session store {store.name!r} answers WindowRangeQuery.with_key(key) only "
                "(as in Kafka); a window-start range needs a window store")
        with lock:
            return [KeyValue(k, v) for k, v in store.fetch(query.key)]
    if query.key is not None:
        from ..dsl.windows import _windowed

        size = store.window_size_ms
        with lock:
            rows = list(store.fetch(query.key, 0, _MAX_TIME))
        return [KeyValue(_windowed(query.key, start, start + size), plain(value))
                for start, value in rows]
    with lock:
        rows = list(store.fetch_all(query.time_from, query.time_to))
    return [KeyValue(k, plain(v)) for k, v in rows]


def _versions_in(versions: list[VersionedRecord], query: MultiVersionedKeyQuery
                 ) -> list[VersionedRecord]:
    """Versions (tombstones excluded) valid at some time in ``[from_time, to_time]``."""
    lo = query.from_time_ms
    hi = query.to_time_ms
    out = [v for v in versions if v.value is not None
           and (hi is None or v.timestamp <= hi)
           and (lo is None or v.valid_to is None or v.valid_to > lo)]
    if query.order is ResultOrder.DESCENDING:
        out.reverse()
    return out


def timed(store: Any, lock: AbstractContextManager[Any], query: Query
          ) -> tuple[Any, str]:
    """``run`` plus Kafka's execution-info line."""
    start = time.perf_counter_ns()
    result = run(store, lock, query)
    took = time.perf_counter_ns() - start
    return result, f"Handled in {type(store).__name__} {store.name!r} in {took}ns"


__all__ = ["UnsupportedQuery", "check_supported", "range_page", "run", "timed"]
