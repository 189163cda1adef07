"""The query types of Interactive Queries v2 (Kafka's ``org.apache.kafka.streams.query``).

Queries are immutable descriptions; the store-side code in ``execute.py`` runs them. Times
are epoch milliseconds (ints) or ``datetime`` objects, as elsewhere in streamnb.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from typing import Any

from .._time import to_timestamp


class _NoCursor:
    """The cursor of a first page (no key seen yet)."""

    def __repr__(self) -> str:
        return "NO_CURSOR"


NO_CURSOR: Any = _NoCursor()


class ResultOrder(enum.Enum):
    """The order of range results: ANY (ascending in streamnb), ASCENDING or DESCENDING."""

    ANY = "ANY"
    ASCENDING = "ASCENDING"
    DESCENDING = "DESCENDING"


class Query:
    """Base of all queries (Kafka's ``Query<R>``)."""

    #: The store kinds (``StateStore.kind``) that can answer this query.
    store_kinds: tuple[str, ...] = ()


def _time(value: Any, what: str) -> int | None:
    return None if value is None else to_timestamp(value, what)


def _key(key: Any, query: str) -> Any:
    if key is None:
        raise ValueError(f"{query}: key cannot be None")
    return key


@dataclass(frozen=True)
class KeyQuery(Query):
    """The value of one key in a key-value store (plain value, without its timestamp)."""

    key: Any
    skip_cache: bool = False
    store_kinds = ("key_value",)

    @staticmethod
    def with_key(key: Any) -> KeyQuery:
        return KeyQuery(_key(key, "KeyQuery"))

    def skip_cache_(self) -> KeyQuery:
        """Kafka's ``skipCache()``: streamnb's stores have no read cache, so a no-op."""
        return replace(self, skip_cache=True)


@dataclass(frozen=True)
class TimestampedKeyQuery(Query):
    """As KeyQuery, but the result is a ``ValueAndTimestamp``."""

    key: Any
    store_kinds = ("key_value",)

    @staticmethod
    def with_key(key: Any) -> TimestampedKeyQuery:
        return TimestampedKeyQuery(_key(key, "TimestampedKeyQuery"))


@dataclass(frozen=True)
class RangeQuery(Query):
    """Entries with ``lower <= key <= upper`` (None: unbounded) in a key-value store."""

    lower: Any = None
    upper: Any = None
    order: ResultOrder = ResultOrder.ANY
    #: streamnb's paging: at most ``limit`` entries after the key ``after`` (see with_page).
    limit: int | None = None
    after: Any = NO_CURSOR
    store_kinds = ("key_value",)

    @staticmethod
    def with_range(lower: Any, upper: Any) -> RangeQuery:
        return RangeQuery(lower, upper)

    @staticmethod
    def with_lower_bound(lower: Any) -> RangeQuery:
        return RangeQuery(lower, None)

    @staticmethod
    def with_upper_bound(upper: Any) -> RangeQuery:
        return RangeQuery(None, upper)

    @staticmethod
    def with_no_bounds() -> RangeQuery:
        return RangeQuery()

    def with_descending_keys(self) -> RangeQuery:
        return replace(self, order=ResultOrder.DESCENDING)

    def with_ascending_keys(self) -> RangeQuery:
        return replace(self, order=ResultOrder.ASCENDING)

    def with_page(self, limit: int, after: Any = NO_CURSOR) -> RangeQuery:
        """Only the first ``limit`` entries (per partition) that come after key ``after``
        in the query's order: how to walk a huge store without loading it whole."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"a page limit must be a positive int, got {limit!r}")
        return replace(self, limit=limit, after=after)

    @property
    def descending(self) -> bool:
        return self.order is ResultOrder.DESCENDING


@dataclass(frozen=True)
class TimestampedRangeQuery(RangeQuery):
    """As RangeQuery, values as ``ValueAndTimestamp``."""

    @staticmethod
    def with_range(lower: Any, upper: Any) -> TimestampedRangeQuery:
        return TimestampedRangeQuery(lower, upper)

    @staticmethod
    def with_no_bounds() -> TimestampedRangeQuery:
        return TimestampedRangeQuery()


@dataclass(frozen=True)
class WindowKeyQuery(Query):
    """One key's windows whose start lies in ``[time_from, time_to]``: ``(start, value)``."""

    key: Any
    time_from: int
    time_to: int
    store_kinds = ("window",)

    @staticmethod
    def with_key_and_window_start_range(key: Any, time_from: Any, time_to: Any
                                        ) -> WindowKeyQuery:
        lo, hi = _time(time_from, "time_from"), _time(time_to, "time_to")
        if lo is None or hi is None:
            raise ValueError("WindowKeyQuery needs both time_from and time_to")
        return WindowKeyQuery(_key(key, "WindowKeyQuery"), lo, hi)


@dataclass(frozen=True)
class WindowRangeQuery(Query):
    """All windows of one key (``with_key``), or of every key with a start in a range
    (``with_window_start_range``); results are ``(Windowed, value)``."""

    key: Any = None
    time_from: int | None = None
    time_to: int | None = None
    store_kinds = ("window", "session")

    @staticmethod
    def with_key(key: Any) -> WindowRangeQuery:
        return WindowRangeQuery(key=_key(key, "WindowRangeQuery"))

    @staticmethod
    def with_window_start_range(time_from: Any, time_to: Any) -> WindowRangeQuery:
        lo, hi = _time(time_from, "time_from"), _time(time_to, "time_to")
        if lo is None or hi is None:
            raise ValueError("WindowRangeQuery.with_window_start_range needs both times")
        return WindowRangeQuery(None, lo, hi)


@dataclass(frozen=True)
class VersionedKeyQuery(Query):
    """The latest version of a key, or the version valid ``as_of`` a time."""

    key: Any
    as_of_timestamp: int | None = None
    store_kinds = ("versioned",)

    @staticmethod
    def with_key(key: Any) -> VersionedKeyQuery:
        return VersionedKeyQuery(_key(key, "VersionedKeyQuery"))

    def as_of(self, timestamp: Any) -> VersionedKeyQuery:
        if timestamp is None:
            raise ValueError("VersionedKeyQuery.as_of: timestamp cannot be None")
        return replace(self, as_of_timestamp=to_timestamp(timestamp, "as_of"))


@dataclass(frozen=True)
class MultiVersionedKeyQuery(Query):
    """The versions of a key valid at some time in ``[from_time, to_time]``."""

    key: Any
    from_time_ms: int | None = None
    to_time_ms: int | None = None
    order: ResultOrder = ResultOrder.ANY
    store_kinds = ("versioned",)

    @staticmethod
    def with_key(key: Any) -> MultiVersionedKeyQuery:
        return MultiVersionedKeyQuery(_key(key, "MultiVersionedKeyQuery"))

    def from_time(self, timestamp: Any) -> MultiVersionedKeyQuery:
        return replace(self, from_time_ms=_time(timestamp, "from_time"))

    def to_time(self, timestamp: Any) -> MultiVersionedKeyQuery:
        return replace(self, to_time_ms=_time(timestamp, "to_time"))

    def with_descending_timestamps(self) -> MultiVersionedKeyQuery:
        return replace(self, order=ResultOrder.DESCENDING)

    def with_ascending_timestamps(self) -> MultiVersionedKeyQuery:
        return replace(self, order=ResultOrder.ASCENDING)
