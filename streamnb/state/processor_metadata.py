"""Processor metadata: small per-task facts committed with the input offsets, as Kafka's.

Kafka keeps a few ``name -> long`` values per task (``ProcessorMetadata``) that are not in
any store but must survive a restart - today the "last emitted window close time" of
windowed aggregations with ``EmitStrategy.on_window_close()``, keyed by the aggregation's
store name. They travel in the ``metadata`` string of each committed input offset
(``TopicPartitionMetadata``): base64 of ``magic byte 2 | partition time (8) | metadata``,
where metadata is ``entry count (4)`` then per entry ``key length (4) + UTF-8 | value (8)``
(big-endian; empty when there are no entries). On assignment the task reads the committed
metadata of its partitions and merges them, keeping the largest value of each key.
"""

from __future__ import annotations

import base64
import binascii
import logging
import struct
from collections.abc import Iterator

log = logging.getLogger("streamnb.state")

_INT = struct.Struct(">i")
_LONG = struct.Struct(">q")
_MAGIC = 2
UNKNOWN_TIME = -1


class ProcessorMetadata:
    """``name -> int`` values of a task's processors, and whether they changed since the
    last commit (only then must every input partition's offset carry them again)."""

    __slots__ = ("_values", "needs_commit")

    def __init__(self, values: dict[str, int] | None = None) -> None:
        self._values: dict[str, int] = dict(values or {})
        self.needs_commit = False

    def put(self, key: str, value: int) -> None:
        self._values[key] = value
        self.needs_commit = True

    def get(self, key: str) -> int | None:
        return self._values.get(key)

    def update(self, other: ProcessorMetadata) -> None:
        """Merge ``other`` in: missing keys are added, present ones keep the larger value."""
        for key, value in other._values.items():
            mine = self._values.get(key)
            if mine is None or mine < value:
                self._values[key] = value

    def items(self) -> Iterator[tuple[str, int]]:
        return iter(self._values.items())

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ProcessorMetadata) and other._values == self._values

    def __repr__(self) -> str:
        return f"ProcessorMetadata({self._values!r})"

    def serialize(self) -> bytes:
        if not self._values:
            return b""
        out = [_INT.pack(len(self._values))]
        for key, value in self._values.items():
            raw = key.encode("utf-8")
            out += [_INT.pack(len(raw)), raw, _LONG.pack(value)]
        return b"".join(out)

    @staticmethod
    def deserialize(data: bytes | None) -> ProcessorMetadata:
        if not data:
            return ProcessorMetadata()
        count = _INT.unpack_from(data, 0)[0]
        pos = 4
        values = {}
        for _ in range(count):
            size = _INT.unpack_from(data, pos)[0]
            pos += 4
            key = data[pos:pos + size].decode("utf-8")
            pos += size
            values[key] = _LONG.unpack_from(data, pos)[0]
            pos += 8
        return ProcessorMetadata(values)


def encode_offset_metadata(partition_time: int, metadata: ProcessorMetadata) -> str:
    """The ``metadata`` string of a committed input offset (Kafka's layout)."""
    raw = bytes([_MAGIC]) + _LONG.pack(partition_time) + metadata.serialize()
    return base64.b64encode(raw).decode("ascii")


def decode_offset_metadata(text: str | None) -> tuple[int, ProcessorMetadata]:
    """``(partition time, processor metadata)`` of a committed offset's metadata string.

    Offsets committed by other clients carry other strings (or none): those give unknown
    time and no metadata, with a warning for strings that are not ours, as Kafka does.
    """
    if not text:
        return UNKNOWN_TIME, ProcessorMetadata()
    try:
        raw = base64.b64decode(text, validate=True)
        version = raw[0]
        partition_time = _LONG.unpack_from(raw, 1)[0]
        if version == 1:
            return partition_time, ProcessorMetadata()
        if version == _MAGIC:
            return partition_time, ProcessorMetadata.deserialize(raw[9:])
        log.warning("committed offset metadata of unsupported version %d ignored", version)
    except (binascii.Error, IndexError, struct.error, UnicodeDecodeError, ValueError):
        log.warning("committed offset metadata %r is not Kafka Streams metadata; ignored",
                    text[:40])
    return UNKNOWN_TIME, ProcessorMetadata()


__all__ = ["ProcessorMetadata", "decode_offset_metadata", "encode_offset_metadata"]
