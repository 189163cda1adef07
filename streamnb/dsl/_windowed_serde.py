"""Serdes of windowed keys, with Kafka's byte layouts, so that windowed results can leave
through a sink (and be read by Java consumers with Kafka's windowed deserializers).

* ``TimeWindowedSerde``: ``key bytes + window start (8 bytes, big-endian)`` - Kafka's
  ``TimeWindowedSerializer``; deserializing needs the window size to restore the end.
* ``SessionWindowedSerde``: ``key bytes + end (8) + start (8)`` - ``SessionWindowedSerializer``.

Both wrap the serde of the plain key; when none was chosen, ``resolve(default)`` (called by
the test driver and the runtime with the app's default key serde) fills it in.
"""

from __future__ import annotations

import struct
from typing import Any

from ..errors import SerializationException
from ..serde import Serde, Serdes

_LONG = struct.Struct(">q")
_LONG_INT = struct.Struct(">qi")
_TWO_LONGS = struct.Struct(">qq")
_MAX = 2**63 - 1


def _windowed_parts(obj: Any, what: str) -> tuple[Any, Any]:
    window = getattr(obj, "window", None)
    if window is None or not hasattr(obj, "key"):
        raise SerializationException(
            f"{what} serde expects a Windowed key (key plus window), got {type(obj).__name__}"
        )
    return obj.key, window


class _WrapperSerde(Serde):
    """A serde around the plain key's serde (``inner``; None = the app's default)."""

    def __init__(self, inner: Any = None) -> None:
        super().__init__()
        self.inner = inner

    def _inner(self) -> Any:
        return self.inner if self.inner is not None else Serdes.JSON()

    def _key_bytes(self, topic: str | None, key: Any) -> bytes:
        data = self._inner().serialize(topic, key)
        return b"" if data is None else data


class TimeWindowedSerde(_WrapperSerde):
    """``Windowed`` keys of time (tumbling, hopping, sliding) windows."""

    def __init__(self, inner: Any = None, window_size_ms: int | None = None) -> None:
        super().__init__(inner)
        self.window_size_ms = window_size_ms
        self.name = f"TimeWindowed<{getattr(inner, 'name', 'default')}>"

    def resolve(self, default_serde: Any) -> TimeWindowedSerde:
        if self.inner is not None:
            return self
        return TimeWindowedSerde(default_serde, self.window_size_ms)

    def serialize(self, topic: str | None, obj: Any) -> bytes | None:
        if obj is None:
            return None
        key, window = _windowed_parts(obj, self.name)
        return self._key_bytes(topic, key) + _LONG.pack(window.start)

    def deserialize(self, topic: str | None, data: bytes | None) -> Any:
        from .windows import TimeWindow, Windowed

        if data is None:
            return None
        if len(data) < 8:
            raise SerializationException(
                f"{self.name} serde cannot deserialize {len(data)} bytes: a time-windowed key "
                "ends with an 8-byte window start")
        start = _LONG.unpack_from(data, len(data) - 8)[0]
        size = self.window_size_ms
        end = _MAX if size is None else min(start + size, _MAX)
        key = self._inner().deserialize(topic, bytes(data[:-8]))
        return Windowed(key, TimeWindow(start, end))


class SessionWindowedSerde(_WrapperSerde):
    """``Windowed`` keys of session windows."""

    def __init__(self, inner: Any = None) -> None:
        super().__init__(inner)
        self.name = f"SessionWindowed<{getattr(inner, 'name', 'default')}>"

    def resolve(self, default_serde: Any) -> SessionWindowedSerde:
        return self if self.inner is not None else SessionWindowedSerde(default_serde)

    def serialize(self, topic: str | None, obj: Any) -> bytes | None:
        if obj is None:
            return None
        key, window = _windowed_parts(obj, self.name)
        return self._key_bytes(topic, key) + _TWO_LONGS.pack(window.end, window.start)

    def deserialize(self, topic: str | None, data: bytes | None) -> Any:
        from .windows import SessionWindow, Windowed

        if data is None:
            return None
        if len(data) < 16:
            raise SerializationException(
                f"{self.name} serde cannot deserialize {len(data)} bytes: a session-windowed "
                "key ends with 16 bytes of window end and start")
        end, start = _TWO_LONGS.unpack_from(data, len(data) - 16)
        key = self._inner().deserialize(topic, bytes(data[:-16]))
        return Windowed(key, SessionWindow(start, end))


class WindowStoreKeySerde(_WrapperSerde):
    """Changelog keys of a window store, ``(key, window_start[, seq])``: Kafka's
    ``WindowKeySchema`` layout ``key bytes + start (8) + sequence number (4)``."""

    def __init__(self, inner: Any = None) -> None:
        super().__init__(inner)
        self.name = f"WindowStoreKey<{getattr(inner, 'name', 'default')}>"

    def resolve(self, default_serde: Any) -> WindowStoreKeySerde:
        return self if self.inner is not None else WindowStoreKeySerde(default_serde)

    def serialize(self, topic: str | None, obj: Any) -> bytes | None:
        if obj is None:
            return None
        seq = obj[2] if len(obj) > 2 else 0
        return self._key_bytes(topic, obj[0]) + _LONG_INT.pack(obj[1], seq)

    def deserialize(self, topic: str | None, data: bytes | None) -> Any:
        if data is None:
            return None
        start, seq = _LONG_INT.unpack_from(data, len(data) - 12)
        key = self._inner().deserialize(topic, bytes(data[:-12]))
        return (key, start, seq) if seq else (key, start)


__all__ = ["SessionWindowedSerde", "TimeWindowedSerde", "WindowStoreKeySerde"]
