"""StateQueryRequest: which store, which query, which partitions, how fresh.

``StateQueryRequest.in_store("counts").with_query(KeyQuery.with_key("kafka"))``, then
optionally ``.with_partitions({0})``, ``.with_position_bound(PositionBound.at(p))``,
``.enable_execution_info()``, ``.require_active()`` - Kafka's builder, in snake_case.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from .position import PositionBound
from .queries import Query


@dataclass(frozen=True)
class StateQueryRequest:
    """An immutable request; every ``with_*`` returns a new one."""

    store_name: str
    query: Query
    position_bound: PositionBound
    partitions: frozenset[int] | None = None  # None: all (local) partitions
    execution_info_enabled: bool = False
    is_require_active: bool = False

    @staticmethod
    def in_store(name: str) -> InStore:
        if not isinstance(name, str) or not name:
            raise TypeError(f"a store name must be a non-empty str, got {name!r}")
        return InStore(name)

    def with_query(self, query: Query) -> StateQueryRequest:
        return replace(self, query=_check_query(query))

    def with_position_bound(self, bound: PositionBound) -> StateQueryRequest:
        if not isinstance(bound, PositionBound):
            raise TypeError("with_position_bound takes PositionBound.unbounded() or "
                            f"PositionBound.at(position), got {bound!r}")
        return replace(self, position_bound=bound)

    def with_all_partitions(self) -> StateQueryRequest:
        return replace(self, partitions=None)

    def with_partitions(self, partitions: Iterable[int]) -> StateQueryRequest:
        parts = frozenset(partitions)
        bad = [p for p in parts if isinstance(p, bool) or not isinstance(p, int) or p < 0]
        if bad:
            raise ValueError(f"partitions must be non-negative ints, got {sorted(map(repr, bad))}")
        return replace(self, partitions=parts)

    def enable_execution_info(self) -> StateQueryRequest:
        return replace(self, execution_info_enabled=True)

    def require_active(self) -> StateQueryRequest:
        return replace(self, is_require_active=True)

    @property
    def is_all_partitions(self) -> bool:
        return self.partitions is None


@dataclass(frozen=True)
class InStore:
    """The first step of the builder: ``StateQueryRequest.in_store(name)``."""

    name: str

    def with_query(self, query: Query) -> StateQueryRequest:
        return StateQueryRequest(self.name, _check_query(query), PositionBound.unbounded())


def _check_query(query: Query) -> Query:
    if not isinstance(query, Query):
        raise TypeError("with_query takes a query such as KeyQuery.with_key(k) or "
                        f"RangeQuery.with_range(a, b), got {type(query).__name__}")
    return query
