"""Query results: one ``QueryResult`` per store partition, gathered in ``StateQueryResult``.

A partition either succeeded (``result``) or failed with a ``FailureReason`` and a message
that says why and what to do; both carry the partition's ``Position`` and, on request, the
execution info. ``StateQueryResult.to_pandas()`` flattens the successful results.
"""

from __future__ import annotations

import enum
from typing import Any

from .position import Position


class FailureReason(enum.Enum):
    """Why a partition could not answer (Kafka's names)."""

    UNKNOWN_QUERY_TYPE = "UNKNOWN_QUERY_TYPE"
    NOT_ACTIVE = "NOT_ACTIVE"
    NOT_UP_TO_BOUND = "NOT_UP_TO_BOUND"
    NOT_PRESENT = "NOT_PRESENT"
    DOES_NOT_EXIST = "DOES_NOT_EXIST"
    STORE_EXCEPTION = "STORE_EXCEPTION"


class QueryResult:
    """The outcome of a query on one store partition."""

    __slots__ = ("_result", "failure_reason", "failure_message", "execution_info", "position",
                 "partition")

    def __init__(self, result: Any = None, failure_reason: FailureReason | None = None,
                 failure_message: str | None = None, position: Position | None = None,
                 partition: int | None = None) -> None:
        self._result = result
        self.failure_reason = failure_reason
        self.failure_message = failure_message
        self.execution_info: list[str] = []
        self.position = position if position is not None else Position()
        self.partition = partition

    @staticmethod
    def for_result(result: Any) -> QueryResult:
        return QueryResult(result)

    @staticmethod
    def for_failure(reason: FailureReason, message: str) -> QueryResult:
        return QueryResult(None, reason, message)

    def is_success(self) -> bool:
        return self.failure_reason is None

    def is_failure(self) -> bool:
        return self.failure_reason is not None

    def get_result(self) -> Any:
        """The result; raises for a failed partition (with its reason), as Kafka does."""
        if self.failure_reason is not None:
            raise IllegalStateException(
                f"the query failed on partition {self.partition}: "
                f"{self.failure_reason.value}: {self.failure_message}")
        return self._result

    result = property(get_result)

    def add_execution_info(self, message: str) -> None:
        self.execution_info.append(message)

    def __repr__(self) -> str:
        if self.failure_reason is not None:
            return (f"QueryResult(partition={self.partition}, failure={self.failure_reason.value}"
                    f", message={self.failure_message!r})")
        return f"QueryResult(partition={self.partition}, result={self._result!r})"


class IllegalStateException(RuntimeError):
    """Reading the result of a failed partition (Kafka's name)."""


class StateQueryResult:
    """Per-partition results of a ``StateQueryRequest`` (plus a global store's result)."""

    def __init__(self, query: Any = None) -> None:
        self.query = query
        self.partition_results: dict[int, QueryResult] = {}
        self.global_result: QueryResult | None = None

    def add_result(self, partition: int, result: QueryResult) -> None:
        result.partition = partition
        self.partition_results[partition] = result

    def set_global_result(self, result: QueryResult) -> None:
        self.global_result = result

    def get_only_partition_result(self) -> QueryResult | None:
        """The one successful non-empty partition result (key queries), or None; raises
        when several partitions returned something."""
        found = [r for r in self.partition_results.values()
                 if r.is_success() and r._result is not None]
        if len(found) > 1:
            raise ValueError(f"the query did not return exactly one partition result: "
                             f"{self.partition_results}")
        return found[0] if found else None

    only_partition_result = property(get_only_partition_result)

    @property
    def position(self) -> Position:
        """The merged position of every partition (Kafka's ``getPosition``)."""
        if self.global_result is not None:
            return self.global_result.position
        if len(self.partition_results) == 1:  # one partition (a routed key query)
            for only in self.partition_results.values():
                return only.position.copy()
        merged = Position()
        for r in self.partition_results.values():
            merged.merge(r.position)
        return merged

    def failures(self) -> dict[int, QueryResult]:
        return {p: r for p, r in self.partition_results.items() if r.is_failure()}

    def to_pandas(self) -> Any:
        """Successful results as one DataFrame with a ``partition`` column; key/value
        results give ``key``/``value`` (+ ``timestamp``, window and validity columns as the
        query type has them)."""
        import pandas as pd

        from .rows import result_rows

        rows: list[dict[str, Any]] = []
        items = sorted(self.partition_results.items())
        if self.global_result is not None:
            items.append((-1, self.global_result))
        for partition, r in items:
            if r.is_success():
                for row in result_rows(self.query, r._result):
                    row["partition"] = partition
                    rows.append(row)
        columns: list[str] = []
        for row in rows:
            for name in row:
                if name not in columns:
                    columns.append(name)
        if "partition" in columns:
            columns.remove("partition")
            columns.append("partition")
        return pd.DataFrame(rows, columns=columns or ["key", "value", "partition"])

    def __repr__(self) -> str:
        return f"StateQueryResult({self.partition_results!r}, global={self.global_result!r})"
