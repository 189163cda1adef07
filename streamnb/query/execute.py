"""Run one query against one store partition (the store side of IQv2).

In-memory key-value stores are read without the stream thread's lock: a dict lookup and a
``list(dict)`` are atomic under the GIL, so a key query never waits for a batch or a commit
and never makes the stream thread wait. Other stores (sqlite, windows, versions) are read
under the lock, for as short as the read: ranges are paged (``paging.py``), never a copy of
the whole store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from ..processor import KeyValue
from ..state._base import ValueAndTimestamp
from ..state.versioned import VersionedRecord
from . import paging
from .queries import (
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


def run(store: Any, lock: AbstractContextManager[Any], query: Query, version: Any = None,
        fresh: bool = False) -> Any:
    """The result of ``query`` on ``store`` (raises UnsupportedQuery or the store's error).

    ``version`` (the partition's input position) tells paged ranges whether their sorted
    key snapshot is still current; ``fresh`` (a position bound) forces a current one."""
    if type(query) is KeyQuery:  # the common case first: one dict read, nothing else
        data = getattr(store, "_data", None)
        if type(data) is dict and getattr(store, "kind", "key_value") == "key_value":
            stored = data.get(query.key)
            if stored is not None and getattr(store, "timestamped", False):
                return stored[0]
            return stored
    check_supported(store, query)
    plain = _unwrap(store)
    if isinstance(query, (KeyQuery, TimestampedKeyQuery)):
        data = getattr(store, "_data", None)
        if type(data) is dict:  # GIL-atomic: no lock, no wait for the stream thread
            stored = data.get(query.key)
        else:
            with lock:
                stored = store.get(query.key)
        if isinstance(query, KeyQuery):
            return plain(stored)
        return None if stored is None else ValueAndTimestamp(stored[0], stored[1])
    if isinstance(query, RangeQuery):
        return _range(store, lock, query, version, fresh)
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
def _range(store: Any, lock: AbstractContextManager[Any], query: RangeQuery, version: Any,
           fresh: bool) -> list[KeyValue]:
    timestamped = isinstance(query, TimestampedRangeQuery)
    plain = _unwrap(store)
    pairs = paging.range_page(store, lock, query.lower, query.upper, query.descending,
                              query.after, query.limit, version, fresh)
    if pairs is None:  # unpaged, on a store only its own range can order
        with lock:
            method = store.reverse_range if query.descending else store.range
            pairs = list(method(query.lower, query.upper))
    if timestamped:
        return [KeyValue(k, ValueAndTimestamp(v[0], v[1])) for k, v in pairs]
    return [KeyValue(k, plain(v)) for k, v in pairs]


def range_page(store: Any, lock: AbstractContextManager[Any], lower: Any, upper: Any,
               descending: bool, after: Any, limit: int) -> list[tuple[Any, Any]]:
    """At most ``limit`` entries of ``[lower, upper]`` strictly after the cursor ``after``
    (in the query's order), without sorting or copying the whole store per page."""
    page = paging.range_page(store, lock, lower, upper, descending, after, limit)
    return [] if page is None else page


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


def timed(store: Any, lock: AbstractContextManager[Any], query: Query, version: Any = None,
          fresh: bool = False) -> tuple[Any, str]:
    """``run`` plus Kafka's execution-info line."""
    start = time.perf_counter_ns()
    result = run(store, lock, query, version, fresh)
    took = time.perf_counter_ns() - start
    return result, f"Handled in {type(store).__name__} {store.name!r} in {took}ns"


__all__ = ["UnsupportedQuery", "check_supported", "range_page", "run", "timed"]
