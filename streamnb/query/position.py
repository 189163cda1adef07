"""Position and PositionBound: how far a store partition has read its input topics.

As in Kafka (KIP-796), a position maps topic -> partition -> the offset of the last input
record reflected in the state. A bound asks for state at least that fresh; a store partition
that is behind fails with ``NOT_UP_TO_BOUND`` instead of answering with stale data. streamnb
tracks positions per task (all stores of a task have seen the same input records), which is
never behind Kafka's per-store position.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class Position:
    """``{topic: {partition: offset}}``; merging keeps the larger offset of each partition."""

    __slots__ = ("_map",)

    def __init__(self, mapping: Mapping[str, Mapping[int, int]] | None = None) -> None:
        self._map: dict[str, dict[int, int]] = {}
        if not mapping:
            return
        for topic, parts in mapping.items():
            for partition, offset in parts.items():
                self.with_component(topic, partition, offset)

    @staticmethod
    def _adopt(mapping: dict[str, dict[int, int]]) -> Position:
        """A position that takes ``mapping`` as it is (no copy, no checks): for callers that
        just built a fresh ``{topic: {partition: offset}}`` of ints, once per query."""
        out = Position.__new__(Position)
        out._map = mapping
        return out

    @staticmethod
    def empty_position() -> Position:
        return Position()

    @staticmethod
    def from_map(mapping: Mapping[str, Mapping[int, int]]) -> Position:
        """A position from ``{topic: {partition: offset}}`` (JSON string partitions allowed)."""
        if not isinstance(mapping, Mapping):
            raise TypeError("a position is a mapping {topic: {partition: offset}}, got "
                            f"{type(mapping).__name__}")
        out = Position()
        for topic, parts in mapping.items():
            if not isinstance(topic, str) or not isinstance(parts, Mapping):
                raise TypeError("a position is a mapping {topic: {partition: offset}}; "
                                f"bad entry for {topic!r}: {parts!r}")
            for partition, offset in parts.items():
                out.with_component(topic, _int(partition, "partition"), _int(offset, "offset"))
        return out

    def with_component(self, topic: str, partition: int, offset: int) -> Position:
        """Record ``offset`` for ``topic``/``partition`` unless a larger one is known."""
        parts = self._map.setdefault(topic, {})
        prior = parts.get(partition)
        if prior is None or offset > prior:
            parts[partition] = offset
        return self

    def merge(self, other: Position | None) -> Position:
        if other is not None:
            for topic, parts in other._map.items():
                for partition, offset in parts.items():
                    self.with_component(topic, partition, offset)
        return self

    def copy(self) -> Position:
        # the map holds only ints under str topics: copying its dicts is a deep copy
        return Position._adopt({t: dict(parts) for t, parts in self._map.items()})

    def topics(self) -> set[str]:
        return set(self._map)

    def partition_positions(self, topic: str) -> dict[int, int]:
        return dict(self._map.get(topic, {}))

    def is_empty(self) -> bool:
        return not self._map

    def to_dict(self) -> dict[str, dict[int, int]]:
        return {t: dict(p) for t, p in self._map.items()}

    def to_json(self) -> dict[str, dict[str, int]]:
        """JSON form (partition keys as strings), as the REST API returns and accepts it."""
        return {t: {str(p): o for p, o in parts.items()} for t, parts in self._map.items()}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Position) and self._map == other._map

    __hash__ = None  # type: ignore[assignment]  # mutable, as Kafka's

    def __repr__(self) -> str:
        return f"Position({self._map!r})"


class PositionBound:
    """The freshness a query requires: ``unbounded()`` or ``at(position)``."""

    __slots__ = ("_position",)

    def __init__(self, position: Position) -> None:
        self._position = position.copy()

    @staticmethod
    def unbounded() -> PositionBound:
        out = PositionBound.__new__(PositionBound)
        out._position = Position._adopt({})
        return out

    @staticmethod
    def at(position: Position | Mapping[str, Mapping[int, int]]) -> PositionBound:
        if not isinstance(position, Position):
            position = Position.from_map(position)
        return PositionBound(position)

    def is_unbounded(self) -> bool:
        return self._position.is_empty()

    def position(self) -> Position:
        return self._position

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PositionBound) and self._position == other._position

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PositionBound({self._position!r})"


def is_permitted(position: Position, bound: PositionBound, partition: int) -> bool:
    """Kafka's rule: for every topic the bound names for this ``partition``, the position
    must have that partition at an offset no smaller than the bound's."""
    if not bound._position._map:  # unbounded: every position is permitted
        return True
    for topic in bound.position().topics():
        wanted = bound.position().partition_positions(topic)
        if partition not in wanted:
            continue
        seen = position.partition_positions(topic)
        if partition not in seen or seen[partition] < wanted[partition]:
            return False
    return True


def _int(value: Any, what: str) -> int:
    # a float only when whole: int() would truncate 1.5 and fail on inf (OverflowError)
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise TypeError(f"position {what} must be an integer, got {value!r}")
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        raise TypeError(f"position {what} must be an integer, got {value!r}") from None
