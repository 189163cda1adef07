"""IQv2 on a TopologyTestDriver: its single task "0_0" is partition 0 of every store."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from .local import LocalPartition, UnknownStateStoreException, run_request
from .position import Position
from .requests import StateQueryRequest
from .results import StateQueryResult


def query_driver(driver: Any, request: StateQueryRequest) -> StateQueryResult:
    """Run ``request`` against the driver's stores; the position is the offsets piped so far
    (the driver processes every record before ``pipe_input`` returns)."""
    if not isinstance(request, StateQueryRequest):
        raise TypeError("query() takes a StateQueryRequest, got " + type(request).__name__)
    stores = driver.get_all_state_stores()
    name = request.store_name
    if name not in stores:
        raise UnknownStateStoreException(
            f"Cannot get state store {name!r} because no such store is registered in the "
            f"topology; its stores are {sorted(stores)}")

    inputs = set(driver._task_topics) | set(driver._global_topics)

    def position() -> Position:
        return Position({topic: {0: nxt - 1} for topic, nxt in driver._offsets.items()
                         if nxt > 0 and topic in inputs})

    part = LocalPartition(0, stores[name], nullcontext(), position, True, "0_0")
    if name in driver.topology.global_stores:
        return run_request(request, lambda _n: [], None, part)
    return run_request(request, lambda _n: [part], 1)
