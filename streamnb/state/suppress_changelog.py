"""The changelog value of a suppression buffer, laid out as Kafka's (``BufferValue`` v3).

A buffered key must come back after a restart with everything its eventual emission needs:
the value downstream last saw (the *prior* value, kept from the key's first buffered update),
the old and new value of the latest update, the record context of that update (timestamp,
offset, topic, partition, headers) and the key's buffer time (its place in the eviction
order). Kafka logs exactly these; so do we, in its byte layout::

    context:  timestamp (8) | offset (8) | topic length (4) + UTF-8 | partition (4)
              | header count (4) + per header: key length (4) + UTF-8, value length (4,
              -1 = null) + bytes
    prior:    length (4, -1 = null) + bytes
    old:      length (4, -1 = null, -2 = same as prior) + bytes
    new:      length (4, -1 = null) + bytes
    buffer time (8)

All integers are big-endian. Values go through the table's value serde. A missing topic
(records made by punctuation) is written with length -1.
"""

from __future__ import annotations

import struct
from typing import Any

from ..errors import SerializationException
from ..serde import Serde, Serdes

_INT = struct.Struct(">i")
_LONG = struct.Struct(">q")
_TWO_LONGS = struct.Struct(">qq")
_NULL = -1
_SAME_AS_PRIOR = -2

# Positions in a buffer entry (a list, mutated in place by the buffer).
TIME, NEW, PRIOR, TIMESTAMP, HEADERS, SIZE, OLD, TOPIC, PARTITION, OFFSET = range(10)


def new_entry(buffer_time: int, new: Any, prior: Any, old: Any, timestamp: int, headers: Any,
              topic: str | None, partition: int, offset: int, size: int) -> list[Any]:
    """A buffer entry in the layout the buffer and this serde share."""
    return [buffer_time, new, prior, timestamp, headers, size, old, topic, partition, offset]


def _put_bytes(out: list[bytes], data: bytes | None) -> None:
    if data is None:
        out.append(_INT.pack(_NULL))
    else:
        out.append(_INT.pack(len(data)))
        out.append(data)


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _need(self, n: int) -> None:
        if self.pos + n > len(self.data):
            raise SerializationException(
                f"suppression buffer changelog value is truncated: needed {n} bytes at offset "
                f"{self.pos} of {len(self.data)}; was the changelog written by another app?")

    def int_(self) -> int:
        self._need(4)
        value = _INT.unpack_from(self.data, self.pos)[0]
        self.pos += 4
        return value

    def long_(self) -> int:
        self._need(8)
        value = _LONG.unpack_from(self.data, self.pos)[0]
        self.pos += 8
        return value

    def bytes_(self, length: int) -> bytes | None:
        if length == _NULL:
            return None
        if length < 0:
            raise SerializationException(
                f"suppression buffer changelog value has a bad length {length} at offset "
                f"{self.pos - 4}")
        self._need(length)
        value = self.data[self.pos:self.pos + length]
        self.pos += length
        return value


class BufferValueSerde(Serde):
    """Serde of suppression-buffer changelog values: a buffer entry <-> Kafka's layout.

    ``inner`` is the table's value serde (None = the app's default, filled in by
    ``resolve``, as the test driver and the runtime do for wrapper serdes).
    """

    def __init__(self, inner: Any = None) -> None:
        super().__init__()
        self.inner = inner
        self.name = f"BufferValue<{getattr(inner, 'name', 'default')}>"

    def resolve(self, default_serde: Any) -> BufferValueSerde:
        return self if self.inner is not None else BufferValueSerde(default_serde)

    def _value_serde(self) -> Any:
        return self.inner if self.inner is not None else Serdes.JSON()

    def serialize(self, topic: str | None, entry: Any) -> bytes | None:
        if entry is None:
            return None
        if not isinstance(entry, list) or len(entry) != 10:
            raise SerializationException(
                f"{self.name} serializes suppression buffer entries, got {type(entry).__name__}")
        serde = self._value_serde()
        out: list[bytes] = [_TWO_LONGS.pack(entry[TIMESTAMP], entry[OFFSET])]
        record_topic = entry[TOPIC]
        _put_bytes(out, None if record_topic is None else record_topic.encode("utf-8"))
        out.append(_INT.pack(entry[PARTITION]))
        headers = list(entry[HEADERS] or ())
        out.append(_INT.pack(len(headers)))
        for name, value in headers:
            _put_bytes(out, name.encode("utf-8"))
            _put_bytes(out, value)
        prior = None if entry[PRIOR] is None else serde.serialize(topic, entry[PRIOR])
        old = None if entry[OLD] is None else serde.serialize(topic, entry[OLD])
        _put_bytes(out, prior)
        if old is not None and old == prior:
            out.append(_INT.pack(_SAME_AS_PRIOR))
        else:
            _put_bytes(out, old)
        _put_bytes(out, None if entry[NEW] is None else serde.serialize(topic, entry[NEW]))
        out.append(_LONG.pack(entry[TIME]))
        return b"".join(out)

    def deserialize(self, topic: str | None, data: bytes | None) -> Any:
        if data is None:
            return None
        from ..processor import Headers

        serde = self._value_serde()
        reader = _Reader(bytes(data))
        timestamp = reader.long_()
        offset = reader.long_()
        raw_topic = reader.bytes_(reader.int_())
        partition = reader.int_()
        count = reader.int_()
        headers: Any = None
        if count:
            items = []
            for _ in range(count):
                name = reader.bytes_(reader.int_())
                if name is None:
                    raise SerializationException(
                        "suppression buffer changelog value has a header without a name")
                items.append((name.decode("utf-8"), reader.bytes_(reader.int_())))
            headers = Headers(items)
        prior_bytes = reader.bytes_(reader.int_())
        old_length = reader.int_()
        old_bytes = prior_bytes if old_length == _SAME_AS_PRIOR else reader.bytes_(old_length)
        new_bytes = reader.bytes_(reader.int_())
        buffer_time = reader.long_()
        if reader.pos != len(reader.data):
            raise SerializationException(
                f"suppression buffer changelog value has {len(reader.data) - reader.pos} "
                "unexpected trailing bytes")

        def value(raw: bytes | None) -> Any:
            return None if raw is None else serde.deserialize(topic, raw)

        return new_entry(buffer_time, value(new_bytes), value(prior_bytes), value(old_bytes),
                         timestamp, headers, None if raw_topic is None else raw_topic.decode(),
                         partition, offset, 0)


__all__ = ["BufferValueSerde", "new_entry"]
