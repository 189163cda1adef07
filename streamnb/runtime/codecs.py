"""Per-topic encode/decode functions built once from serdes, for the per-record path.

``Serde.serialize`` checks and wraps every call so that errors are clear; that costs more
than the encoding itself for short strings. The functions here take a direct path for the
built-in String and JSON serdes and fall back to the serde's own (checked) method for
anything unusual, so a bad value still gets the serde's clear error message.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from itertools import islice, repeat
from json.encoder import c_encode_basestring, py_encode_basestring  # type: ignore[attr-defined]
from operator import itemgetter
from typing import Any

from confluent_kafka import Message

from ..serde import Serde, Serdes
from . import json_columns

Encoder = Callable[[Any], Any]
Decoder = Callable[[Any], Any]

_STRING = Serdes.String()
_JSON = Serdes.JSON()
_LONG = Serdes.Long()
_INTEGER = Serdes.Integer()
_json_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_json_loads = json.loads
# ``str -> JSON string literal`` (non-ASCII kept): json.dumps(ensure_ascii=False) on a str.
_json_string = c_encode_basestring or py_encode_basestring


def resolve_serde(serde: Any, default: Serde) -> Any:
    """The serde to use: ``default`` when none was chosen; wrapper serdes (table changes,
    windowed keys) fill the default into the slot they wrap, as in the test driver."""
    if serde is None:
        return default
    resolve = getattr(serde, "resolve", None)
    return resolve(default) if resolve is not None else serde


def encoder(serde: Any, topic: str) -> Encoder:
    """``obj -> bytes | None`` for ``topic``; raises SerializationException on bad input."""
    checked = serde.serialize
    if serde is _STRING:
        def encode_str(obj: Any) -> Any:
            if type(obj) is str:
                return obj.encode()
            return checked(topic, obj)
        return encode_str
    if serde is _JSON:
        def encode_json(obj: Any) -> Any:
            kind = type(obj)
            if kind is int:
                return b"%d" % obj
            if kind is str:  # what the serde's json.dumps writes for a string, in C
                try:
                    return _json_string(obj).encode()
                except UnicodeEncodeError:  # lone surrogates: the serde says so clearly
                    return checked(topic, obj)
            if kind is dict or kind is list or kind is float:
                try:
                    return _json_encode(obj).encode()
                except (TypeError, ValueError):
                    pass
            return checked(topic, obj)
        return encode_json
    if serde is _LONG or serde is _INTEGER:  # counts: changelogs and sinks of every count
        pack = serde._struct.pack  # type: ignore[attr-defined]

        def encode_int(obj: Any) -> Any:
            if obj.__class__ is int:
                try:
                    return pack(obj)
                except struct.error:  # out of range: the serde says so clearly
                    pass
            return checked(topic, obj)
        return encode_int
    return lambda obj: checked(topic, obj)


def decoder(serde: Any, topic: str) -> Decoder:
    """``bytes | None -> obj`` for ``topic``; raises SerializationException on bad bytes."""
    checked = serde.deserialize
    if serde is _STRING:
        def decode_str(data: Any) -> Any:
            if data is None:
                return None
            try:
                return data.decode()
            except UnicodeDecodeError:
                return checked(topic, data)
        return decode_str
    if serde is _JSON:
        loads = json_columns.decode_one if json_columns.available() else _json_loads

        def decode_json(data: Any) -> Any:
            if data is None:
                return None
            try:
                return loads(data)
            except (ValueError, TypeError):  # JSONDecodeError, UnicodeDecodeError, no bytes
                return checked(topic, data)
        return decode_json
    return lambda data: checked(topic, data)


# -- compiled batch paths ------------------------------------------------------------------
# A whole batch is decoded (or encoded and produced) by one generated function whose
# per-record expressions are specialised to the serdes: no Python call per field for the
# built-in serdes. Any exception sends the caller to the checked per-record path.


def _encode_expr(serde: Any, var: str, env: dict[str, Any], name: str) -> str:
    if serde is _STRING:
        env[name] = encoder(serde, "")
        return f"({var}.encode() if {var}.__class__ is str else {name}({var}))"
    if serde is _LONG or serde is _INTEGER:
        env[name + "_pack"] = serde._struct.pack  # type: ignore[attr-defined]
        env[name] = serde.serialize
        return (f"({name}_pack({var}) if {var}.__class__ is int else "
                f"{name}(None, {var}))")
    if serde is _JSON:  # ints and strings directly, the rest through encode_json
        env[name] = encoder(serde, "")
        env["_json_string"] = _json_string
        return (f"(b'%d' % {var} if {var}.__class__ is int else "
                f"_json_string({var}).encode() if {var}.__class__ is str else {name}({var}))")
    env[name] = serde.serialize
    return f"{name}(None, {var})"


def _compile(source: str, env: dict[str, Any], fn: str) -> Callable[..., Any]:
    namespace = dict(env)
    exec(compile(source, f"<streamnb {fn}>", "exec"), namespace)  # noqa: S102 - own template
    return namespace[fn]


def _decode_column(serde: Any) -> Callable[[list[Any]], Any]:
    """``[bytes | None, ...] -> iterable of objects`` for one serde, looping in C (``map``)
    for the built-in serdes; raises on the first value the serde rejects."""
    if serde is _STRING or serde is _JSON:
        fast = bytes.decode if serde is _STRING else _json_loads
        if serde is _JSON and json_columns.available():
            return json_columns.JsonColumn()

        def column(raw: list[Any]) -> Any:
            nulls = raw.count(None)
            if not nulls:
                return map(fast, raw)
            if nulls == len(raw):
                return raw
            return [None if data is None else fast(data) for data in raw]
        return column
    deserialize = serde.deserialize
    return lambda raw: map(deserialize, repeat(None), raw)


_key, _value, _timestamp = Message.key, Message.value, Message.timestamp
_headers, _offset = Message.headers, Message.offset
_second = itemgetter(1)


def compile_decode_run(key_serde: Any, value_serde: Any
                       ) -> Callable[[list[Any]], tuple[list, list, list, list, list]]:
    """``msgs -> (keys, values, timestamps, headers, offsets)``: the columns of consumed
    messages of one partition, decoded; each list as long as ``msgs``. Raises on the first
    record a serde rejects (the caller then takes its checked per-record path).

    Message accessors and decoders run through ``map`` (a C loop, no bytecode per record),
    which measured about twice as fast as one generated comprehension calling them."""
    decode_keys = _decode_column(key_serde)
    decode_values = _decode_column(value_serde)

    def decode_run(msgs: list[Any]) -> tuple[list, list, list, list, list]:
        return (list(decode_keys(list(map(_key, msgs)))),
                list(decode_values(list(map(_value, msgs)))),
                list(map(_second, map(_timestamp, msgs))),
                list(map(_headers, msgs)),
                list(map(_offset, msgs)))
    return decode_run


# Producer.produce parses keyword arguments slowly: measured here, timestamp= and headers=
# make a call cost ~1.3 µs instead of ~0.75 µs; passed by position they cost nothing extra
# (and a column-wise produce through map() was no faster than this loop). confluent-kafka's
# positional order is topic, value, key, partition, on_delivery, callback, timestamp,
# headers; tests/runtime/test_runtime_noida.py checks that timestamps and headers arrive.
PARTITION_ANY = -1  # librdkafka's RD_KAFKA_PARTITION_UA: let the partitioner choose


def compile_produce_all(produce: Callable[..., Any], topic: str, key_serde: Any,
                        value_serde: Any) -> Callable[[list[tuple], int], tuple[int, Any]]:
    """``(records, start) -> (index, error)``: produce ``(key, value, timestamp, headers)``
    tuples from ``start``; stops at the first record that fails (``error`` set, ``index``
    on it) so the caller can apply its handler and resume after it."""
    env: dict[str, Any] = {"produce": produce, "topic": topic}
    key = _encode_expr(key_serde, "key", env, "ek")
    value = _encode_expr(value_serde, "value", env, "ev")
    source = (
        "def produce_all(records, start):\n"
        "    i = start\n"
        "    for key, value, timestamp, headers in (records[start:] if start else records):\n"
        "        try:\n"
        f"            produce(topic, {value}, {key}, -1, None, None, timestamp, headers)\n"
        "        except Exception as exc:\n"
        "            return i, exc\n"
        "        i += 1\n"
        "    return i, None\n"
    )
    return _compile(source, env, "produce_all")


def compile_changelog_all(produce: Callable[..., Any], topic: str, key_serde: Any,
                          value_serde: Any) -> Callable[[list[tuple], int, int], tuple[int, Any]]:
    """``(records, partition, start) -> (index, error)``: produce a commit's changelog
    records ``(key, value, timestamp)`` of one store to its partition (a None value is a
    tombstone); stops at the first record that fails, as ``compile_produce_all``."""
    env: dict[str, Any] = {"produce": produce, "topic": topic}
    key = _encode_expr(key_serde, "key", env, "ek")
    value = _encode_expr(value_serde, "value", env, "ev")
    source = (
        "def changelog_all(records, partition, start):\n"
        "    i = start\n"
        "    for key, value, timestamp in (records[start:] if start else records):\n"
        "        try:\n"
        f"            produce(topic, None if value is None else {value}, {key}, partition,"
        " None, None, timestamp)\n"
        "        except Exception as exc:\n"
        "            return i, exc\n"
        "        i += 1\n"
        "    return i, None\n"
    )
    return _compile(source, env, "changelog_all")


def compile_changelog_pairs(produce: Callable[..., Any], topic: str, key_serde: Any,
                            value_serde: Any
                            ) -> Callable[[Any, int, int, int], tuple[int, Any]]:
    """``(items, partition, start, now) -> (index, error)``: produce a timestamped store's
    pending changes, ``(key, (value, timestamp))`` pairs (a None change is a tombstone,
    stamped ``now``) straight from its dict's ``items()`` - no record tuple is built per
    change, so a commit of 50,000 changes allocates nothing the cyclic GC must track.
    ``items`` must iterate the same way again: a resume after a failed record at ``start``
    skips the records before it. Stops at the first record that fails, as
    ``compile_produce_all``."""
    env: dict[str, Any] = {"produce": produce, "topic": topic, "islice": islice}
    key = _encode_expr(key_serde, "key", env, "ek")
    value = _encode_expr(value_serde, "value", env, "ev")
    source = (
        "def changelog_pairs(items, partition, start, now):\n"
        "    i = start\n"
        "    for key, stored in (islice(items, start, None) if start else items):\n"
        "        try:\n"
        "            if stored is None:\n"
        f"                produce(topic, None, {key}, partition, None, None, now)\n"
        "            else:\n"
        "                value = stored[0]\n"
        f"                produce(topic, None if value is None else {value}, {key}, partition,"
        " None, None, stored[1])\n"
        "        except Exception as exc:\n"
        "            return i, exc\n"
        "        i += 1\n"
        "    return i, None\n"
    )
    return _compile(source, env, "changelog_pairs")
