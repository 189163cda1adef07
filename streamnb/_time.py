"""One rule for turning duration arguments into milliseconds (Kafka's unit)."""

from __future__ import annotations

import datetime as _dt


def to_millis(value: object, name: str = "duration") -> int:
    """Return ``value`` (a ``timedelta`` or an int of milliseconds) as int milliseconds."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a datetime.timedelta or an int of milliseconds, got bool")
    if isinstance(value, int):
        return value
    if isinstance(value, _dt.timedelta):
        return (value.days * 86_400_000) + (value.seconds * 1000) + (value.microseconds // 1000)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise TypeError(
        f"{name} must be a datetime.timedelta or an int of milliseconds, "
        f"got {type(value).__name__} {value!r}"
    )


def to_timestamp(value: object, name: str = "timestamp") -> int:
    """Return an epoch-millisecond timestamp from an int or a ``datetime``."""
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return int(value.timestamp() * 1000)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{name} must be an int of epoch milliseconds or a datetime, "
            f"got {type(value).__name__} {value!r}"
        )
    return value
