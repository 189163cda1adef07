"""Punctuation schedules, aligned and re-armed exactly as Kafka's PunctuationQueue does."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..processor import Cancellable


@dataclass(order=True)
class Schedule:
    time: int
    seq: int
    interval: int = field(compare=False)
    node: Any = field(compare=False)
    callback: Callable[[int], None] = field(compare=False)
    handle: Cancellable = field(compare=False)

    def next(self, now: int) -> int:
        """Next due time: one interval on, skipping the intervals missed in a gap."""
        due = self.time + self.interval
        if now >= due:
            missed = (now - self.time) // self.interval
            due = self.time + (missed + 1) * self.interval
        return due


class PunctuationQueue:
    """Due-time ordered schedules of one kind (stream time or wall-clock time)."""

    def __init__(self) -> None:
        self._heap: list[Schedule] = []
        self._seq = itertools.count()

    def add(self, first_time: int, interval: int, node: Any, callback: Callable[[int], None]
            ) -> Cancellable:
        handle = Cancellable()
        heapq.heappush(
            self._heap, Schedule(first_time, next(self._seq), interval, node, callback, handle)
        )
        return handle

    def __bool__(self) -> bool:
        return bool(self._heap)

    def may_punctuate(self, now: int, run: Callable[[Schedule, int], None]) -> bool:
        """Run every schedule due at ``now``; each callback gets ``now`` (not its due time)."""
        heap = self._heap
        punctuated = False
        while heap and heap[0].time <= now:
            sched = heapq.heappop(heap)
            if sched.handle.cancelled:
                continue
            run(sched, now)
            if not sched.handle.cancelled:
                sched.time = sched.next(now)
                sched.seq = next(self._seq)
                heapq.heappush(heap, sched)
            punctuated = True
        return punctuated
