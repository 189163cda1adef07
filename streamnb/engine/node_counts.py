"""Records processed per processor node (Kafka's processor-node ``process-total``).

Counting a node per record would cost a Python operation per node per record. Instead the
counters live where the record count changes: generated (fused) code keeps one counter per
block it enters (a batch loop, the body of a filter's ``if``, a flat_map's ``for``), and
every node written in that block is *attributed* that counter. A batch loop keeps its
counters in local variables and adds them to the task's slots when the batch ends (also
when an exception leaves it), so a straight chain of operators costs no per-record counting
at all. Nodes that generated code does not reach count in a small wrapper around their
``process`` (see ``count_calls``), only where the task asks for it.

A node's total is the sum of the slots attributed to it, computed when read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class NodeCounts:
    """One task's counter slots and which nodes each slot counts."""

    def __init__(self) -> None:
        #: Counter slots, written by generated code and wrappers (one thread: the task's).
        self.slots: list[int] = []
        self._sites: dict[str, list[int]] = {}

    def new_slot(self) -> int:
        """A fresh counter slot (its index into ``slots``)."""
        self.slots.append(0)
        return len(self.slots) - 1

    def attribute(self, node_name: str, slot: int) -> None:
        """Count every record ``slot`` counts as processed by ``node_name`` (once per call:
        a node reached twice in one block, e.g. below a merge, is attributed twice)."""
        self._sites.setdefault(node_name, []).append(slot)

    def declare(self, node_name: str) -> None:
        """A node that is counted, even before any slot is attributed to it (shows as 0)."""
        self._sites.setdefault(node_name, [])

    def totals(self) -> dict[str, int]:
        """Node name -> records processed so far. Read under the owning thread's lock for
        exact values; without it a total may miss the batch running at that moment."""
        slots = self.slots
        return {name: sum(slots[i] for i in sites) for name, sites in self._sites.items()}


def counts_itself(process: Any) -> bool:
    """Whether a node's ``process`` counts its own calls (a fused function with counters,
    or a ``count_calls`` wrapper): a caller must not count them again."""
    return bool(getattr(process, "counts_itself", False))


def count_calls(counts: NodeCounts, node_name: str,
                process: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    """``process`` wrapped to count its calls into a new slot of ``counts``: one extra
    call and one list increment per record, so the task wraps only where asked to."""
    slot = counts.new_slot()
    counts.attribute(node_name, slot)
    slots = counts.slots

    def counted(key: Any, value: Any) -> None:
        slots[slot] += 1
        process(key, value)

    counted.counts_itself = True  # type: ignore[attr-defined]
    counted.inner = process  # type: ignore[attr-defined]  # generated code calls this one
    counted.__qualname__ = f"counted[{node_name}]"
    return counted


def counting_levels(config: dict[str, Any]) -> tuple[bool, bool]:
    """``(count, count_every_node)`` for a task's config: both at ``metrics.recording.level``
    DEBUG or TRACE, as Kafka records processor-node metrics only there. At INFO (the
    default) generated code has no counters at all: counting measured 8-19% on the
    in-process word count (docs/observability/node-metrics.md), over the 2% that would
    justify always counting. The notebook starts its apps at DEBUG."""
    level = str(config.get("metrics.recording.level", "INFO")).strip().upper()
    on = level in ("DEBUG", "TRACE")
    return on, on
