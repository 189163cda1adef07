"""Decode a column of JSON documents (one consumed batch's keys or values) quickly.

Why: with the default JSON serdes, ``json.loads(bytes)`` was the stream thread's largest
cost (~2 µs of Python per call: encoding detection, whitespace regexes, two method calls,
for documents such as ``"word"`` or ``42``). Here the decoder's C scanner parses each
document in C loops (``map``), and short documents that decode to immutable objects
(strings, numbers, booleans) are kept in one bounded process-wide cache: keys and values
repeat (words, ids, small counts), and a hit costs one dict lookup. The results equal
``json.loads``'s; a document the scanner does not consume exactly (surrounding blanks)
goes through ``json.loads``, and invalid JSON or UTF-8 raises, so the caller can take its
checked per-record path with the serde's own error message.
"""

from __future__ import annotations

import json
from itertools import compress, repeat
from json.scanner import c_make_scanner  # type: ignore[attr-defined]
from operator import and_, ge, is_, is_not, itemgetter
from typing import Any

# ``(text, index) -> (object, end)``: the C scanner behind json.loads (None without the C
# accelerator); it clears its memo after every call, so one instance is safe to share.
_scan = c_make_scanner(json.JSONDecoder()) if c_make_scanner is not None else None
_loads = json.loads
_utf8 = bytes.decode
_first, _second = itemgetter(0), itemgetter(1)

CACHE_ENTRIES = 16_384  # bounds memory to a few MB: cleared when it would grow past this
CACHE_DOC_BYTES = 64  # longer documents are decoded every time, never kept
_MAX_SKIP = 64  # batches decoded without lookups after batches that mostly missed
_IMMUTABLE = frozenset({str, int, float, bool})  # safe to hand the same object out again
_cache: dict[bytes, Any] = {}
_cache_get = _cache.get


def available() -> bool:
    """Whether the C scanner exists (CPython's ``_json``); else callers use json.loads."""
    return _scan is not None


def decode_all(raw: list[bytes]) -> list[Any]:
    """Documents (no None) -> objects, as ``json.loads`` would return them."""
    texts = list(map(_utf8, raw))
    # The scanner raises StopIteration where no value starts (empty or leading blank),
    # which ends map() early: the shorter list of ends then differs too.
    pairs = list(map(_scan, texts, repeat(0)))
    if list(map(_second, pairs)) != list(map(len, texts)):
        return list(map(_loads, raw))
    return list(map(_first, pairs))


def decode_one(data: bytes) -> Any:
    """One document -> object, as ``json.loads`` (raises ValueError on invalid bytes)."""
    try:
        text = _utf8(data)
        obj, end = _scan(text, 0)
        if end == len(text):
            return obj
    except (ValueError, TypeError, StopIteration):  # bad JSON or UTF-8, no bytes, no value
        pass
    return _loads(data)  # blanks around the value; or raises json.loads's own error


class JsonColumn:
    """``[bytes | None, ...] -> [object, ...]`` for one source (its own cache statistics:
    a column of unique documents soon stops looking them up)."""

    __slots__ = ("_skip", "_misses")

    def __init__(self) -> None:
        self._skip = 0  # batches left to decode without the cache
        self._misses = 0  # consecutive batches that mostly missed

    def __call__(self, raw: list[Any]) -> list[Any]:
        nulls = raw.count(None)
        if nulls:
            if nulls == len(raw):
                return raw
            return self._with_nulls(raw)
        if self._skip:
            self._skip -= 1
            return decode_all(raw)
        out = list(map(_cache_get, raw))
        missing = out.count(None)
        if not missing:
            return out
        if missing * 2 > len(out):  # mostly new documents: look up less often
            self._misses += 1
            self._skip = min(1 << self._misses, _MAX_SKIP)
        else:
            self._misses = 0
        where = list(compress(range(len(raw)), map(is_, out, repeat(None))))
        docs = list(map(raw.__getitem__, where))
        values = decode_all(docs)
        for index, value in zip(where, values, strict=True):
            out[index] = value
        if len(_cache) + len(docs) > CACHE_ENTRIES:
            _cache.clear()
            if len(docs) > CACHE_ENTRIES:  # a huge batch of new documents: keep none
                return out
        keep = map(and_, map(ge, repeat(CACHE_DOC_BYTES), map(len, docs)),
                   map(_IMMUTABLE.__contains__, map(type, values)))
        _cache.update(compress(zip(docs, values), keep))
        return out

    def _with_nulls(self, raw: list[Any]) -> list[Any]:
        """A column with tombstones (None stays None): decode the documents between them."""
        present = list(compress(range(len(raw)), map(is_not, raw, repeat(None))))
        out = list(raw)
        for index, value in zip(present, self(list(map(raw.__getitem__, present))),
                                strict=True):
            out[index] = value
        return out
