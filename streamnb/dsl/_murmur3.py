"""MurmurHash3 x64 128-bit, the hash Kafka's foreign-key join puts on subscriptions.

The left side hashes the serialized left value when it subscribes and again when the answer
comes back; a different hash means the row changed meanwhile, so the answer is stale. Kafka
uses seed 104729 and sends the two 64-bit halves big-endian; ``hash128`` returns those 16
bytes, so hashes compare as bytes and travel as-is in the wrapper records.
"""

from __future__ import annotations

import struct

SEED = 104729  # Kafka's Murmur3.DEFAULT_SEED
_MASK = (1 << 64) - 1
_C1 = 0x87C37B91114253D5
_C2 = 0x4CF5AD432745937F
_TWO_LE = struct.Struct("<QQ")
_TWO_BE = struct.Struct(">QQ")


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _MASK


def _fmix(h: int) -> int:
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & _MASK
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & _MASK
    h ^= h >> 33
    return h


def hash128(data: bytes, seed: int = SEED) -> bytes:
    """The 128-bit hash of ``data`` as 16 bytes (h1 then h2, each big-endian)."""
    length = len(data)
    h1 = h2 = seed & _MASK
    end = length - (length & 15)
    unpack = _TWO_LE.unpack_from
    c1, c2, mask = _C1, _C2, _MASK
    for offset in range(0, end, 16):
        k1, k2 = unpack(data, offset)
        k1 = (k1 * c1) & mask
        k1 = (((k1 << 31) | (k1 >> 33)) * c2) & mask
        h1 ^= k1
        h1 = ((((h1 << 27) | (h1 >> 37)) & mask) + h2) * 5 + 0x52DCE729 & mask
        k2 = (k2 * c2) & mask
        k2 = (((k2 << 33) | (k2 >> 31)) * c1) & mask
        h2 ^= k2
        h2 = ((((h2 << 31) | (h2 >> 33)) & mask) + h1) * 5 + 0x38495AB5 & mask
    tail = data[end:]
    if len(tail) > 8:
        k2 = int.from_bytes(tail[8:], "little")
        h2 ^= (_rotl((k2 * _C2) & _MASK, 33) * _C1) & _MASK
    if tail:
        k1 = int.from_bytes(tail[:8], "little")
        h1 ^= (_rotl((k1 * _C1) & _MASK, 31) * _C2) & _MASK
    h1 ^= length
    h2 ^= length
    h1 = (h1 + h2) & _MASK
    h2 = (h2 + h1) & _MASK
    h1 = _fmix(h1)
    h2 = _fmix(h2)
    h1 = (h1 + h2) & _MASK
    h2 = (h2 + h1) & _MASK
    return _TWO_BE.pack(h1, h2)
