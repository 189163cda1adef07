"""JoinWindows: how far apart in time two records of a stream-stream join may be.

Kept in its own module so the join code does not depend on the other window types; the
lead may move it next to ``TimeWindows`` in ``windows.py``.
"""

from __future__ import annotations

from typing import Any

from .._time import to_millis

_DEPRECATED_DEFAULT_GRACE_MS = 24 * 3600 * 1000


class JoinWindows:
    """A record at ``t`` joins records of the other stream in ``[t - before, t + after]``.

    ``grace`` is how long after a window ends late records are still accepted (and how long
    left/outer joins wait before emitting a record that found no partner).
    """

    __slots__ = ("before_ms", "after_ms", "grace_ms", "enable_spurious_result_fix")

    def __init__(self, before_ms: int, after_ms: int, grace_ms: int,
                 enable_spurious_result_fix: bool = True) -> None:
        if before_ms + after_ms < 0:
            raise ValueError("Window interval (ie, beforeMs+afterMs) must not be negative.")
        if grace_ms < 0:
            raise ValueError("Grace period must not be negative.")
        self.before_ms = before_ms
        self.after_ms = after_ms
        self.grace_ms = grace_ms
        self.enable_spurious_result_fix = enable_spurious_result_fix

    @staticmethod
    def of_time_difference_and_grace(time_difference: Any, after_window_end: Any
                                     ) -> JoinWindows:
        """Records at most ``time_difference`` apart join; late records within
        ``after_window_end`` (grace) are still joined."""
        diff = _non_negative(time_difference, "time_difference")
        grace = _non_negative(after_window_end, "after_window_end")
        return JoinWindows(diff, diff, grace, True)

    @staticmethod
    def of_time_difference_with_no_grace(time_difference: Any) -> JoinWindows:
        """Records at most ``time_difference`` apart join; no grace for late records."""
        return JoinWindows.of_time_difference_and_grace(time_difference, 0)

    @staticmethod
    def of(time_difference: Any) -> JoinWindows:
        """Deprecated in Kafka: 24 h minus twice the difference of grace, and left/outer joins
        emit a (spurious) null-joined result at once whenever no partner is found yet."""
        diff = _non_negative(time_difference, "time_difference")
        return JoinWindows(diff, diff, max(_DEPRECATED_DEFAULT_GRACE_MS - 2 * diff, 0), False)

    def before(self, time_difference: Any) -> JoinWindows:
        """These windows with another look-back: ``[t - time_difference, t + after]``."""
        return JoinWindows(to_millis(time_difference, "time_difference"), self.after_ms,
                           self.grace_ms, self.enable_spurious_result_fix)

    def after(self, time_difference: Any) -> JoinWindows:
        """These windows with another look-ahead: ``[t - before, t + time_difference]``."""
        return JoinWindows(self.before_ms, to_millis(time_difference, "time_difference"),
                           self.grace_ms, self.enable_spurious_result_fix)

    def grace(self, after_window_end: Any) -> JoinWindows:
        """Deprecated: set grace on windows made with ``of``."""
        if self.enable_spurious_result_fix:
            raise RuntimeError(
                "Cannot call grace() after setting grace value via ofTimeDifferenceAndGrace or "
                "ofTimeDifferenceWithNoGrace."
            )
        return JoinWindows(self.before_ms, self.after_ms,
                           _non_negative(after_window_end, "after_window_end"), False)

    def size(self) -> int:
        return self.before_ms + self.after_ms

    def grace_period_ms(self) -> int:
        return self.grace_ms

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JoinWindows) and (
            (self.before_ms, self.after_ms, self.grace_ms)
            == (other.before_ms, other.after_ms, other.grace_ms)
        )

    def __hash__(self) -> int:
        return hash((self.before_ms, self.after_ms, self.grace_ms))

    def __repr__(self) -> str:
        return (f"JoinWindows{{beforeMs={self.before_ms}, afterMs={self.after_ms}, "
                f"graceMs={self.grace_ms}}}")


def _non_negative(value: Any, what: str) -> int:
    millis = to_millis(value, what)
    if millis < 0:
        raise ValueError(f"{what} must not be negative, got {millis} ms")
    return millis
