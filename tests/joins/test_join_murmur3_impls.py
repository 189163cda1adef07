"""The unrolled murmur3 gives the bytes of a plain reference version (the one Kafka's test
vectors pinned before the rewrite) on random inputs of every tail length."""

from __future__ import annotations

import random
import struct

import pytest

from streamnb.dsl import _murmur3

_MASK = (1 << 64) - 1


def _reference(data: bytes, seed: int) -> bytes:
    """A plain transcription of MurmurHash3_x64_128 (slow, obviously correct)."""
    def rotl(x, r):
        return ((x << r) | (x >> (64 - r))) & _MASK

    def fmix(h):
        h ^= h >> 33
        h = (h * 0xFF51AFD7ED558CCD) & _MASK
        h ^= h >> 33
        h = (h * 0xC4CEB9FE1A85EC53) & _MASK
        return h ^ (h >> 33)

    c1, c2 = 0x87C37B91114253D5, 0x4CF5AD432745937F
    h1 = h2 = seed & _MASK
    blocks = len(data) // 16
    for i in range(blocks):
        k1, k2 = struct.unpack_from("<QQ", data, i * 16)
        h1 ^= (rotl((k1 * c1) & _MASK, 31) * c2) & _MASK
        h1 = ((rotl(h1, 27) + h2) * 5 + 0x52DCE729) & _MASK
        h2 ^= (rotl((k2 * c2) & _MASK, 33) * c1) & _MASK
        h2 = ((rotl(h2, 31) + h1) * 5 + 0x38495AB5) & _MASK
    tail = data[blocks * 16:]
    if len(tail) > 8:
        h2 ^= (rotl((int.from_bytes(tail[8:], "little") * c2) & _MASK, 33) * c1) & _MASK
    if tail:
        h1 ^= (rotl((int.from_bytes(tail[:8], "little") * c1) & _MASK, 31) * c2) & _MASK
    h1 ^= len(data)
    h2 ^= len(data)
    h1 = (h1 + h2) & _MASK
    h2 = (h2 + h1) & _MASK
    h1, h2 = fmix(h1), fmix(h2)
    h1 = (h1 + h2) & _MASK
    return struct.pack(">QQ", h1, (h2 + h1) & _MASK)


IMPLS = [_murmur3._hash128_py]


@pytest.mark.parametrize("impl", IMPLS, ids=lambda f: f.__name__)
def test_every_implementation_equals_the_reference(impl):
    rnd = random.Random(7)
    for length in range(0, 70):
        for _ in range(8):
            data = bytes(rnd.randrange(256) for _ in range(length))
            for seed in (_murmur3.SEED, 123, 0, 2**31 + 5, -1, 2**40):
                assert impl(data, seed) == _reference(data, seed), (length, seed)
    assert impl(bytearray(b"xyz" * 9)) == _reference(b"xyz" * 9, _murmur3.SEED)
    assert impl(memoryview(b"xyz" * 9)) == _reference(b"xyz" * 9, _murmur3.SEED)


def test_the_module_hash_is_one_of_them():
    assert _murmur3.hash128 in IMPLS
