"""Kafka's default partitioner for keyed records: murmur2 of the serialized key.

The runtime's producer uses librdkafka's ``murmur2_random``, which hashes keys exactly as
Java's ``Utils.murmur2`` (seed 0x9747b28c), so ``partition_for`` finds the partition a key
was written to - and the task whose store holds it.
"""

from __future__ import annotations

import struct
from typing import Any

_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


_BLOCKS: dict[int, Any] = {}


def _blocks(count: int) -> Any:
    """The unpacker of ``count`` little-endian 32-bit blocks (one C call per key instead of
    four byte reads and shifts per block)."""
    unpack = _BLOCKS.get(count)
    if unpack is None:
        unpack = _BLOCKS[count] = struct.Struct(f"<{count}I").unpack_from
    return unpack


def murmur2(data: bytes) -> int:
    """Java Kafka's ``Utils.murmur2`` as a signed 32-bit int."""
    length = len(data)
    h = (0x9747B28C ^ length) & _MASK
    end = length - (length & 3)
    for k in _blocks(end >> 2)(data) if end else ():
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    rest = length & 3
    if rest == 3:
        h ^= data[end + 2] << 16
    if rest >= 2:
        h ^= data[end + 1] << 8
    if rest >= 1:
        h ^= data[end]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_for(key_bytes: bytes, num_partitions: int) -> int:
    """``toPositive(murmur2(key)) % num_partitions``, as Kafka's built-in partitioner."""
    if num_partitions < 1:
        raise ValueError(f"num_partitions must be positive, got {num_partitions}")
    return (murmur2(key_bytes) & 0x7FFFFFFF) % num_partitions
