"""Serdes: how keys and values become bytes at the edge of a broker.

Inside a topology keys and values are Python objects. A serde is paid only where records
leave the process (a real broker) or, in the test driver, checked on every input and output
topic so that a value the serde cannot handle fails in a test rather than in production.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from typing import Any

from .errors import SerializationException

__all__ = ["Serde", "Serdes", "serde_from_config"]


class Serde:
    """A named pair of functions ``serialize(obj) -> bytes`` and ``deserialize(bytes) -> obj``.

    ``None`` always maps to ``None`` (a null key, or a tombstone value), as in Kafka.
    """

    name = "custom"

    def __init__(
        self,
        serializer: Callable[[Any], bytes] | None = None,
        deserializer: Callable[[bytes], Any] | None = None,
        name: str | None = None,
    ) -> None:
        if serializer is not None:
            if not callable(serializer):
                raise TypeError(f"serializer must be callable, got {type(serializer).__name__}")
            self._to_bytes = serializer
        if deserializer is not None:
            if not callable(deserializer):
                raise TypeError(
                    f"deserializer must be callable, got {type(deserializer).__name__}"
                )
            self._from_bytes = deserializer
        if name:
            self.name = name

    def _to_bytes(self, obj: Any) -> bytes:  # overridden by subclasses or the constructor
        raise NotImplementedError

    def _from_bytes(self, data: bytes) -> Any:
        raise NotImplementedError

    def serialize(self, topic: str | None, obj: Any) -> bytes | None:
        """Turn ``obj`` into bytes for ``topic``; ``None`` stays ``None``."""
        if obj is None:
            return None
        try:
            data = self._to_bytes(obj)
        except SerializationException:
            raise
        except Exception as exc:
            raise SerializationException(
                f"{self.name} serde cannot serialize {type(obj).__name__} {_short(obj)}"
                f"{_on(topic)}: {exc}"
            ) from exc
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise SerializationException(
                f"{self.name} serializer returned {type(data).__name__}, expected bytes{_on(topic)}"
            )
        return bytes(data)

    def deserialize(self, topic: str | None, data: bytes | None) -> Any:
        """Turn bytes read from ``topic`` back into an object; ``None`` stays ``None``."""
        if data is None:
            return None
        try:
            return self._from_bytes(data)
        except SerializationException:
            raise
        except Exception as exc:
            raise SerializationException(
                f"{self.name} serde cannot deserialize {_short(data)}{_on(topic)}: {exc}"
            ) from exc

    def __repr__(self) -> str:
        return f"Serdes.{self.name}()"


def _on(topic: str | None) -> str:
    return f" (topic {topic!r})" if topic else ""


def _short(obj: Any) -> str:
    text = repr(obj)
    return text if len(text) <= 80 else text[:77] + "..."


class _StringSerde(Serde):
    name = "String"

    def _to_bytes(self, obj: Any) -> bytes:
        if not isinstance(obj, str):
            raise TypeError(f"expected str, got {type(obj).__name__}")
        return obj.encode("utf-8")

    def _from_bytes(self, data: bytes) -> Any:
        return bytes(data).decode("utf-8")


class _BytesSerde(Serde):
    name = "Bytes"

    def _to_bytes(self, obj: Any) -> bytes:
        if not isinstance(obj, (bytes, bytearray, memoryview)):
            raise TypeError(f"expected bytes, got {type(obj).__name__}")
        return bytes(obj)

    def _from_bytes(self, data: bytes) -> Any:
        return bytes(data)


class _StructSerde(Serde):
    """Fixed-width big-endian numbers, byte-compatible with Kafka's Java serdes."""

    def __init__(self, name: str, fmt: str, kind: type) -> None:
        super().__init__()
        self.name = name
        self._struct = struct.Struct(fmt)
        self._kind = kind

    def _to_bytes(self, obj: Any) -> bytes:
        if isinstance(obj, bool) or not isinstance(obj, (int, float)):
            raise TypeError(f"expected {self._kind.__name__}, got {type(obj).__name__}")
        if self._kind is int and not isinstance(obj, int):
            raise TypeError(f"expected int, got {type(obj).__name__}")
        return self._struct.pack(obj)

    def _from_bytes(self, data: bytes) -> Any:
        if len(data) != self._struct.size:
            raise ValueError(f"expected {self._struct.size} bytes, got {len(data)}")
        return self._struct.unpack(data)[0]


class _JsonSerde(Serde):
    name = "JSON"

    def __init__(self) -> None:
        super().__init__()
        self._encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

    def _to_bytes(self, obj: Any) -> bytes:
        return self._encoder.encode(obj).encode("utf-8")

    def _from_bytes(self, data: bytes) -> Any:
        return json.loads(data)


class Serdes:
    """Factory of the built-in serdes, shaped like Kafka's ``Serdes`` class."""

    @staticmethod
    def String() -> Serde:  # noqa: N802 - Kafka's names
        """UTF-8 text."""
        return _STRING

    @staticmethod
    def Bytes() -> Serde:  # noqa: N802
        """Raw bytes, unchanged."""
        return _BYTES

    @staticmethod
    def Integer() -> Serde:  # noqa: N802
        """32-bit big-endian signed int (Java ``Integer``)."""
        return _INTEGER

    @staticmethod
    def Long() -> Serde:  # noqa: N802
        """64-bit big-endian signed int (Java ``Long``)."""
        return _LONG

    @staticmethod
    def Double() -> Serde:  # noqa: N802
        """64-bit IEEE float (Java ``Double``)."""
        return _DOUBLE

    @staticmethod
    def Float() -> Serde:  # noqa: N802
        """32-bit IEEE float (Java ``Float``)."""
        return _FLOAT

    @staticmethod
    def JSON() -> Serde:  # noqa: N802
        """UTF-8 JSON: dicts, lists, strings, numbers, booleans and null."""
        return _JSON

    @staticmethod
    def serde_from(
        serializer: Callable[[Any], bytes],
        deserializer: Callable[[bytes], Any],
        name: str = "custom",
    ) -> Serde:
        """A serde from a pair of functions (object -> bytes, bytes -> object)."""
        return Serde(serializer, deserializer, name=name)


_STRING = _StringSerde()
_BYTES = _BytesSerde()
_INTEGER = _StructSerde("Integer", ">i", int)
_LONG = _StructSerde("Long", ">q", int)
_DOUBLE = _StructSerde("Double", ">d", float)
_FLOAT = _StructSerde("Float", ">f", float)
_JSON = _JsonSerde()

_BY_NAME: dict[str, Serde] = {
    "string": _STRING,
    "str": _STRING,
    "bytes": _BYTES,
    "bytearray": _BYTES,
    "integer": _INTEGER,
    "int": _INTEGER,
    "long": _LONG,
    "double": _DOUBLE,
    "float": _FLOAT,
    "json": _JSON,
}
_JAVA_PREFIX = "org.apache.kafka.common.serialization.serdes$"


def serde_from_config(value: Any, what: str = "serde") -> Serde:
    """Resolve a serde given in config: a Serde, a (ser, de) pair, or a name.

    Names are case-insensitive: ``string``, ``json``, ``bytes``, ``integer``, ``long``,
    ``double``, ``float``, and Kafka's Java class names such as
    ``org.apache.kafka.common.serialization.Serdes$StringSerde``.
    """
    if isinstance(value, Serde):
        return value
    if isinstance(value, tuple) and len(value) == 2:
        return Serde(value[0], value[1])
    if isinstance(value, type) and issubclass(value, Serde):
        return value()
    if isinstance(value, str):
        key = value.strip().lower()
        if key.startswith(_JAVA_PREFIX):
            key = key[len(_JAVA_PREFIX):]
            key = key[: -len("serde")] if key.endswith("serde") else key
        if key in _BY_NAME:
            return _BY_NAME[key]
        raise ValueError(
            f"unknown {what} {value!r}: use one of {sorted(set(_BY_NAME))}, a Serde object, "
            "or a (serializer, deserializer) pair"
        )
    raise TypeError(
        f"{what} must be a Serde, a serde name or a (serializer, deserializer) pair, "
        f"got {type(value).__name__}"
    )
