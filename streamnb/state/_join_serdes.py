"""Changelog serdes of the stream-stream join's "outer shared" store, with Kafka's byte
layouts (``TimestampedKeyAndJoinSideSerializer``, ``ListSerde`` of ``LeftOrRightValue``),
so a Java consumer could read the changelog. The join window stores use the window-store
key layout (``WindowStoreKeySerde``) and the side's value serde.

Each serde wraps the user's serdes; ``None`` means the app's default, filled in by
``resolve(default)`` (called by the test driver and the runtime).
"""

from __future__ import annotations

import struct
from typing import Any

from ..errors import SerializationException
from ..serde import Serde, Serdes

_LONG = struct.Struct(">q")
_INT = struct.Struct(">i")
_VARIABLE_SIZE = 1  # ListSerializer.SerializationStrategy.VARIABLE_SIZE
_LEFT, _RIGHT = 0, 1  # streamnb's sides; Kafka writes 1 for left, 0 for right


def _or_default(serde: Any) -> Any:
    return serde if serde is not None else Serdes.JSON()


class TimestampedKeyAndJoinSideSerde(Serde):
    """Keys ``(timestamp, side, key)``: ``timestamp (8) + is-left (1) + key bytes``."""

    def __init__(self, key_serde: Any = None) -> None:
        super().__init__()
        self.key_serde = key_serde
        self.name = f"TimestampedKeyAndJoinSide<{getattr(key_serde, 'name', 'default')}>"

    def resolve(self, default_serde: Any) -> TimestampedKeyAndJoinSideSerde:
        return self if self.key_serde is not None else TimestampedKeyAndJoinSideSerde(
            default_serde)

    def serialize(self, topic: str | None, obj: Any) -> bytes | None:
        if obj is None:
            return None
        timestamp, side, key = obj
        key_bytes = _or_default(self.key_serde).serialize(topic, key) or b""
        return _LONG.pack(timestamp) + (b"\x01" if side == _LEFT else b"\x00") + key_bytes

    def deserialize(self, topic: str | None, data: bytes | None) -> Any:
        if data is None:
            return None
        if len(data) < 9:
            raise SerializationException(
                f"{self.name} cannot deserialize {len(data)} bytes: the key starts with an "
                "8-byte timestamp and a 1-byte join side")
        side = _LEFT if data[8] == 1 else _RIGHT
        key = _or_default(self.key_serde).deserialize(topic, bytes(data[9:]))
        return (_LONG.unpack_from(data)[0], side, key)


class LeftOrRightValuesSerde(Serde):
    """Values ``(side, [value, ...])``: Kafka's list layout (strategy byte, count, then
    length-prefixed entries), each entry ``is-left (1) + value bytes``."""

    def __init__(self, left_serde: Any = None, right_serde: Any = None) -> None:
        super().__init__()
        self.left_serde, self.right_serde = left_serde, right_serde
        self.name = (f"LeftOrRightValues<{getattr(left_serde, 'name', 'default')}, "
                     f"{getattr(right_serde, 'name', 'default')}>")

    def resolve(self, default_serde: Any) -> LeftOrRightValuesSerde:
        return LeftOrRightValuesSerde(self.left_serde or default_serde,
                                      self.right_serde or default_serde)

    def serialize(self, topic: str | None, obj: Any) -> bytes | None:
        if obj is None:
            return None
        side, values = obj
        serde = _or_default(self.left_serde if side == _LEFT else self.right_serde)
        flag = b"\x01" if side == _LEFT else b"\x00"
        parts = [bytes([_VARIABLE_SIZE]), _INT.pack(len(values))]
        for value in values:
            raw = flag + (serde.serialize(topic, value) or b"")
            parts.append(_INT.pack(len(raw)))
            parts.append(raw)
        return b"".join(parts)

    def deserialize(self, topic: str | None, data: bytes | None) -> Any:
        if data is None:
            return None
        if len(data) < 5 or data[0] != _VARIABLE_SIZE:
            raise SerializationException(
                f"{self.name} cannot deserialize {len(data)} bytes: not a variable-size list")
        count = _INT.unpack_from(data, 1)[0]
        offset, side, values = 5, _LEFT, []
        for _ in range(count):
            length = _INT.unpack_from(data, offset)[0]
            raw = data[offset + 4:offset + 4 + length]
            offset += 4 + length
            side = _LEFT if raw[0] == 1 else _RIGHT
            serde = _or_default(self.left_serde if side == _LEFT else self.right_serde)
            values.append(serde.deserialize(topic, bytes(raw[1:])))
        return (side, values)


__all__ = ["LeftOrRightValuesSerde", "TimestampedKeyAndJoinSideSerde"]
