"""Window definitions (Kafka's TimeWindows, SlidingWindows, SessionWindows, JoinWindows) and
the ``Window`` / ``Windowed`` values that windowed aggregations produce as keys.

Bounds, validation and messages follow Kafka Streams, so that a topology ported from Java
behaves (and fails) the same way.
"""

from __future__ import annotations

from typing import Any

from .._time import to_millis
from .join_windows import JoinWindows

__all__ = [
    "EmitStrategy",
    "JoinWindows",
    "SessionWindow",
    "SessionWindows",
    "SlidingWindows",
    "TimeWindow",
    "TimeWindows",
    "Window",
    "Windowed",
]


def _millis(value: Any, name: str) -> int:
    return to_millis(value, name)


# -- window values ---------------------------------------------------------------------------
class Window:
    """A time interval ``[start, end)`` in epoch ms (``end`` is inclusive for session and
    sliding windows). Windows compare equal by their bounds."""

    __slots__ = ("start", "end")

    def __init__(self, start: int, end: int) -> None:
        if start < 0:
            raise ValueError(f"Window startMs time cannot be negative, got {start}.")
        if end < start:
            raise ValueError(
                f"Window endMs time cannot be smaller than window startMs time, got "
                f"start={start} end={end}."
            )
        self.start = start
        self.end = end

    # Kafka's names, for ported code
    def start_time(self) -> int:
        return self.start

    def end_time(self) -> int:
        return self.end

    def overlap(self, other: Window) -> bool:
        """Whether the two windows share a point in time (half-open bounds)."""
        return self.start < other.end and other.start < self.end

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Window):
            return NotImplemented
        return self.start == other.start and self.end == other.end

    def __hash__(self) -> int:
        return hash((self.start, self.end))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(start={self.start}, end={self.end})"

    def __reduce__(self) -> Any:
        return (type(self), (self.start, self.end))


class TimeWindow(Window):
    """A tumbling/hopping window ``[start, end)``: the end is exclusive and after the start."""

    __slots__ = ()

    def __init__(self, start: int, end: int) -> None:
        if start == end:
            raise ValueError("Window endMs must be greater than window startMs.")
        super().__init__(start, end)

    def overlap(self, other: Window) -> bool:
        if not isinstance(other, TimeWindow):
            raise TypeError(
                f"Cannot compare windows of different type. Other window has type "
                f"{type(other).__name__}."
            )
        return self.start < other.end and other.start < self.end


class SessionWindow(Window):
    """A session ``[start, end]``: both ends inclusive (a one-record session has start == end)."""

    __slots__ = ()

    def overlap(self, other: Window) -> bool:
        if not isinstance(other, SessionWindow):
            raise TypeError(
                f"Cannot compare windows of different type. Other window has type "
                f"{type(other).__name__}."
            )
        return not (other.end < self.start or self.end < other.start)


def _make_time_window(start: int, end: int) -> TimeWindow:
    """A TimeWindow without re-validating bounds the engine computed itself (hot path)."""
    window = object.__new__(TimeWindow)
    window.start = start
    window.end = end
    return window


class Windowed:
    """The key of a windowed aggregation: the record key plus its window."""

    __slots__ = ("key", "window")

    def __init__(self, key: Any, window: Window) -> None:
        self.key = key
        self.window = window

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Windowed):
            return NotImplemented
        return self.key == other.key and self.window == other.window

    def __hash__(self) -> int:
        return hash((self.key, self.window.start, self.window.end))

    def __lt__(self, other: Windowed) -> bool:
        return (self.key, self.window.start, self.window.end) < (
            other.key, other.window.start, other.window.end)

    def __repr__(self) -> str:
        return f"[{self.key}@{self.window.start}/{self.window.end}]"

    def __reduce__(self) -> Any:
        return (Windowed, (self.key, self.window))


def _windowed(key: Any, start: int, end: int) -> Windowed:
    """A Windowed over a TimeWindow, built without validation (hot path)."""
    windowed = object.__new__(Windowed)
    windowed.key = key
    window = object.__new__(TimeWindow)
    window.start = start
    window.end = end
    windowed.window = window
    return windowed


# -- emit strategy ---------------------------------------------------------------------------
class EmitStrategy:
    """When a windowed aggregation forwards: on every update (default) or once, when the
    window closes (``on_window_close``)."""

    ON_WINDOW_UPDATE = "ON_WINDOW_UPDATE"
    ON_WINDOW_CLOSE = "ON_WINDOW_CLOSE"

    __slots__ = ("type",)

    def __init__(self, kind: str) -> None:
        self.type = kind

    @staticmethod
    def on_window_update() -> EmitStrategy:
        return EmitStrategy(EmitStrategy.ON_WINDOW_UPDATE)

    @staticmethod
    def on_window_close() -> EmitStrategy:
        return EmitStrategy(EmitStrategy.ON_WINDOW_CLOSE)

    @property
    def on_close(self) -> bool:
        return self.type == EmitStrategy.ON_WINDOW_CLOSE

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EmitStrategy) and other.type == self.type

    def __hash__(self) -> int:
        return hash(self.type)

    def __repr__(self) -> str:
        return f"EmitStrategy.{self.type.lower()}()"


# -- window definitions ----------------------------------------------------------------------
class _WindowSpec:
    """What the window definitions share: value equality over their identifying fields
    (``_identity``) and Kafka's ``gracePeriodMs()``."""

    __slots__ = ()
    grace_ms: int

    def _identity(self) -> tuple[int, ...]:
        raise NotImplementedError

    def grace_period_ms(self) -> int:
        return self.grace_ms

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash((type(self).__name__, *self._identity()))


class TimeWindows(_WindowSpec):
    """Fixed-size windows ``[start, start + size)`` aligned to the epoch: tumbling, or hopping
    with ``advance_by``. A window accepts records until ``end + grace`` in stream time."""

    __slots__ = ("size_ms", "advance_ms", "grace_ms")

    def __init__(self, size_ms: int, advance_ms: int, grace_ms: int) -> None:
        if size_ms <= 0:
            raise ValueError(
                f"Window size (sizeMs) must be larger than zero, got {size_ms} ms.")
        if advance_ms <= 0 or advance_ms > size_ms:
            raise ValueError(
                "Window advancement interval should be more than zero and less than window "
                f"duration which is {size_ms} ms, but given advancement interval is: "
                f"{advance_ms} ms"
            )
        if grace_ms < 0:
            raise ValueError(f"Grace period must not be negative, got {grace_ms} ms.")
        self.size_ms = size_ms
        self.advance_ms = advance_ms
        self.grace_ms = grace_ms

    @staticmethod
    def of_size_with_no_grace(size: Any) -> TimeWindows:
        """Tumbling windows of ``size``; records after a window's end are dropped."""
        return TimeWindows.of_size_and_grace(size, 0)

    @staticmethod
    def of_size_and_grace(size: Any, after_window_end: Any) -> TimeWindows:
        """Tumbling windows of ``size`` that accept late records for ``after_window_end``."""
        size_ms = _millis(size, "size")
        return TimeWindows(size_ms, size_ms, _millis(after_window_end, "afterWindowEnd"))

    def advance_by(self, advance: Any) -> TimeWindows:
        """Hopping windows: a new window every ``advance`` (0 < advance <= size)."""
        return TimeWindows(self.size_ms, _millis(advance, "advance"), self.grace_ms)

    def windows_for(self, timestamp: int) -> dict[int, TimeWindow]:
        """The windows containing ``timestamp``, by start, ascending (never before 0)."""
        size, advance = self.size_ms, self.advance_ms
        start = (max(0, timestamp - size + advance) // advance) * advance
        windows = {}
        while start <= timestamp:
            windows[start] = _make_time_window(start, start + size)
            start += advance
        return windows

    def size(self) -> int:
        return self.size_ms

    def _identity(self) -> tuple[int, ...]:
        return (self.size_ms, self.advance_ms, self.grace_ms)

    def __repr__(self) -> str:
        return (f"TimeWindows{{sizeMs={self.size_ms}, advanceMs={self.advance_ms}, "
                f"graceMs={self.grace_ms}}}")


class SlidingWindows(_WindowSpec):
    """Windows of fixed size ``time_difference`` that slide with the data: two records fall in
    a common window iff their timestamps differ by at most ``time_difference``. Both window
    bounds are inclusive."""

    __slots__ = ("time_difference_ms", "grace_ms")

    def __init__(self, time_difference_ms: int, grace_ms: int) -> None:
        if time_difference_ms < 0:
            raise ValueError(
                f"Window time difference must not be negative, got {time_difference_ms} ms.")
        if grace_ms < 0:
            raise ValueError(f"Window grace period must not be negative, got {grace_ms} ms.")
        self.time_difference_ms = time_difference_ms
        self.grace_ms = grace_ms

    @staticmethod
    def of_time_difference_with_no_grace(time_difference: Any) -> SlidingWindows:
        return SlidingWindows.of_time_difference_and_grace(time_difference, 0)

    @staticmethod
    def of_time_difference_and_grace(time_difference: Any, after_window_end: Any
                                     ) -> SlidingWindows:
        return SlidingWindows(_millis(time_difference, "timeDifference"),
                              _millis(after_window_end, "afterWindowEnd"))

    def size(self) -> int:
        return self.time_difference_ms

    def _identity(self) -> tuple[int, ...]:
        return (self.time_difference_ms, self.grace_ms)

    def __repr__(self) -> str:
        return f"SlidingWindows{{sizeMs={self.time_difference_ms}, graceMs={self.grace_ms}}}"


class SessionWindows(_WindowSpec):
    """Sessions: records of a key less than ``inactivity_gap`` apart share a session."""

    __slots__ = ("gap_ms", "grace_ms")

    def __init__(self, gap_ms: int, grace_ms: int) -> None:
        if gap_ms <= 0:
            raise ValueError(f"Gap time cannot be zero or negative, got {gap_ms} ms.")
        if grace_ms < 0:
            raise ValueError(f"Grace period must not be negative, got {grace_ms} ms.")
        self.gap_ms = gap_ms
        self.grace_ms = grace_ms

    @staticmethod
    def of_inactivity_gap_with_no_grace(inactivity_gap: Any) -> SessionWindows:
        return SessionWindows.of_inactivity_gap_and_grace(inactivity_gap, 0)

    @staticmethod
    def of_inactivity_gap_and_grace(inactivity_gap: Any, after_window_end: Any
                                    ) -> SessionWindows:
        return SessionWindows(_millis(inactivity_gap, "inactivityGap"),
                              _millis(after_window_end, "afterWindowEnd"))

    def inactivity_gap(self) -> int:
        return self.gap_ms

    def _identity(self) -> tuple[int, ...]:
        return (self.gap_ms, self.grace_ms)

    def __repr__(self) -> str:
        return f"SessionWindows{{gapMs={self.gap_ms}, graceMs={self.grace_ms}}}"
