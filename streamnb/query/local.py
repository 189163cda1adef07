"""Answer a StateQueryRequest from the store partitions of this process.

Shared by ``KafkaStreams.query`` and ``TopologyTestDriver.query``: each supplies a function
that lists its local store partitions (store, lock, position, whether its thread runs).
Failures follow Kafka: NOT_PRESENT for a requested partition held elsewhere, DOES_NOT_EXIST
for a partition the store does not have, NOT_ACTIVE when ``require_active()`` meets a task
that is not running, NOT_UP_TO_BOUND when the partition is behind the position bound.

Kafka never waits for a bound; ``timeout`` (streamnb's addition) retries such partitions
until they catch up or the time is over, then reports NOT_UP_TO_BOUND as Kafka would.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..errors import InvalidStateStoreException
from . import execute
from .position import Position, is_permitted
from .queries import (
    MultiVersionedKeyQuery,
    VersionedKeyQuery,
    WindowKeyQuery,
    WindowRangeQuery,
)
from .requests import StateQueryRequest
from .results import FailureReason, QueryResult, StateQueryResult


class UnknownStateStoreException(InvalidStateStoreException):
    """The topology has no store of that name (Kafka's name)."""


@dataclass
class LocalPartition:
    """One local instance (task) of a store."""

    partition: int
    store: Any
    lock: AbstractContextManager[Any]
    position: Callable[[], Position]
    running: bool = True
    task_id: str = ""


Locate = Callable[[str], list[LocalPartition]]


def run_request(request: StateQueryRequest, locate: Locate,
                partition_count: int | None | Callable[[], int | None],
                global_store: LocalPartition | None = None,
                timeout: float | timedelta | None = None) -> StateQueryResult:
    """Run ``request`` on the partitions ``locate(store_name)`` lists. ``partition_count``
    may be a function: it is only needed to tell DOES_NOT_EXIST from NOT_PRESENT."""
    if not isinstance(request, StateQueryRequest):
        raise TypeError("query() takes a StateQueryRequest: StateQueryRequest.in_store(name)"
                        f".with_query(KeyQuery.with_key(k)), got {type(request).__name__}")
    seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
    if seconds is not None and seconds < 0:
        raise ValueError(f"query timeout must not be negative, got {timeout!r}")
    result = StateQueryResult(request.query)
    if global_store is not None:
        result.set_global_result(_one(request, global_store))
        return result
    deadline = None if not seconds else time.monotonic() + seconds
    wanted = request.partitions
    results = result.partition_results
    once = isinstance(request.query, _LOCKED_READS)
    while True:
        stale = False
        parts = [part for part in locate(request.store_name)
                 if (wanted is None or part.partition in wanted) and (
                     (previous := results.get(part.partition)) is None
                     or previous.failure_reason is FailureReason.NOT_UP_TO_BOUND)]
        for lock, group in _by_lock(parts) if once and len(parts) > 1 else ((None, parts),):
            with lock if lock is not None else nullcontext():
                for part in group:
                    out = _one(request, part)
                    result.add_result(part.partition, out)
                    if out.failure_reason is FailureReason.NOT_UP_TO_BOUND:
                        stale = True
        if not stale or deadline is None or time.monotonic() >= deadline:
            break
        time.sleep(0.005)
    if wanted is not None and any(p not in result.partition_results for p in wanted):
        if callable(partition_count):
            partition_count = partition_count()
        for partition in sorted(wanted):
            if partition in result.partition_results:
                continue
            if partition_count is not None and partition >= partition_count:
                result.add_result(partition, QueryResult.for_failure(
                    FailureReason.DOES_NOT_EXIST,
                    f"store {request.store_name!r} has partitions 0..{partition_count - 1}; "
                    f"partition {partition} does not exist"))
            else:
                result.add_result(partition, QueryResult.for_failure(
                    FailureReason.NOT_PRESENT,
                    "The requested partition was not present at the time of the query: it "
                    "is owned by another instance (see query_metadata_for_key) or is being "
                    "moved by a rebalance; try that instance or again later"))
    return result


#: Queries whose every partition read holds its stream thread's lock (re-entrant): run
#: under one hold per thread, so a query over several partitions of one thread waits for
#: that thread's batch once, not once per partition. Key reads need no lock; paged ranges
#: let the lock go between chunks on purpose.
_LOCKED_READS = (WindowKeyQuery, WindowRangeQuery, VersionedKeyQuery, MultiVersionedKeyQuery)


def _by_lock(parts: list[LocalPartition]) -> list[tuple[Any, list[LocalPartition]]]:
    """The partitions grouped by their lock, in the order they were listed."""
    groups: dict[int, tuple[Any, list[LocalPartition]]] = {}
    for part in parts:
        groups.setdefault(id(part.lock), (part.lock, []))[1].append(part)
    return list(groups.values())


def _one(request: StateQueryRequest, part: LocalPartition) -> QueryResult:
    position = part.position()
    if request.is_require_active and not part.running:
        out = QueryResult.for_failure(
            FailureReason.NOT_ACTIVE,
            f"Query requires a running active task, but task {part.task_id} of partition "
            f"{part.partition} is not running; try again later")
    elif not request.is_require_active and not is_permitted(
            position, request.position_bound, part.partition):
        out = QueryResult.for_failure(
            FailureReason.NOT_UP_TO_BOUND,
            f"For store partition {part.partition}, the current position {position.to_dict()}"
            f" is not yet up to the bound {request.position_bound.position().to_dict()}; "
            "retry later, or pass a timeout to wait for it")
    else:
        try:
            fresh = not request.position_bound.is_unbounded()
            if request.execution_info_enabled:
                value, info = execute.timed(part.store, part.lock, request.query, position,
                                            fresh)
                out = QueryResult(value)
                out.add_execution_info(info)
            else:  # no timing and no info line to format when nobody asked for them
                out = QueryResult(execute.run(part.store, part.lock, request.query, position,
                                              fresh))
        except execute.UnsupportedQuery as exc:
            out = QueryResult.for_failure(FailureReason.UNKNOWN_QUERY_TYPE, str(exc))
        except Exception as exc:  # the store failed: report it, keep the app alive
            out = QueryResult.for_failure(
                FailureReason.STORE_EXCEPTION,
                f"{type(exc).__name__} in store {part.store.name!r}: {exc}")
    out.position = position.copy()
    return out


def any_kind_check(store: Any, query: Any) -> str | None:
    """The reason ``query`` cannot run on ``store``'s kind, or None (for 4xx answers)."""
    try:
        execute.check_supported(store, query)
    except execute.UnsupportedQuery as exc:
        return str(exc)
    return None


__all__ = ["LocalPartition", "UnknownStateStoreException", "run_request", "any_kind_check",
           "Any"]
