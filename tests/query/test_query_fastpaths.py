"""The query path's shortcuts give exactly what the general code gives: JSON bodies, query
strings, buffered header reads, murmur2, the key-query read and the per-partition results."""

from __future__ import annotations

import io
import json
import random
import threading
import urllib.parse
from collections import namedtuple
from contextlib import nullcontext

import pytest

from streamnb.query import (
    KeyQuery,
    StateQueryRequest,
    TimestampedKeyQuery,
    WindowKeyQuery,
    execute,
    httpwire,
    jsonio,
)
from streamnb.query.local import LocalPartition, run_request
from streamnb.query.metadata import HostInfo, KeyQueryMetadata
from streamnb.query.murmur2 import murmur2
from streamnb.query.params import ApiError
from streamnb.query.position import Position, PositionBound
from streamnb.query.rest import parse_query
from streamnb.query.results import FailureReason
from streamnb.state._base import ValueAndTimestamp
from streamnb.state.memory import InMemoryKeyValueStore
from streamnb.state.persistent import PersistentKeyValueStore


def _slow_dumps(obj: object) -> bytes:
    return json.dumps(jsonio._plain(obj), allow_nan=False, separators=(",", ":")).encode()


Pair = namedtuple("Pair", "a b")


@pytest.mark.parametrize("value", [
    {"store": "s", "key": "k", "position": {"t": {"0": 5}}, "partition": 1, "value": 2.5},
    {True: 1}, {None: 2}, {1: "int key"}, {1.5: "float key"}, {(1, 2): "tuple key"},
    {"x": float("nan")}, {"x": float("inf")}, {"x": b"\xff\x00"}, {"x": b"utf8"},
    {"x": {3, 1}}, Pair(1, "b"), {"x": Pair(1, [2, (3,)])}, "é", {"é": ["ü", None, False]},
    [], {}, -0.0, 1e300, 2**70,
])
def test_dumps_fast_path_writes_what_the_plain_path_writes(value: object) -> None:
    assert jsonio.dumps(value) == _slow_dumps(value)


def test_dumps_takes_the_fast_path_only_for_plain_json() -> None:
    assert jsonio._native({"a": [1, "b", None, True, 1.5, (2,)]})
    assert not jsonio._native({True: 1})  # json would write "true", _plain "True"
    assert not jsonio._native({"a": float("nan")})
    assert not jsonio._native({"a": b"x"})


def test_parse_query_matches_parse_qs() -> None:
    rng = random.Random(4)
    alphabet = "ab=&;x1 #?é%+2"
    refused = 0
    for _ in range(5000):
        query = "".join(rng.choice(alphabet) for _ in range(rng.randrange(14)))
        try:
            expected = urllib.parse.parse_qs(query, keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:  # e.g. %ab: not UTF-8, refused rather than read as U+FFFD
            refused += 1
            with pytest.raises(ApiError, match="must be UTF-8") as info:
                parse_query(query)
            assert (info.value.status, info.value.code) == (400, "malformed_query")
            continue
        assert parse_query(query) == expected, query
    assert refused
    assert parse_query("key=k1&key=k2&flag") == {"key": ["k1", "k2"], "flag": [""]}


def test_buffered_header_read_matches_the_line_reader_and_leaves_the_next_request() -> None:
    rng = random.Random(8)
    lines = [b"Host: a", b"X-A: 1", b" folded", b"\tfold2", b"x-a: dup", b"NoColon", b"K:v",
             b"Connection: close", b"A:  spaced  ", b"B: with\rCR"]
    for _ in range(3000):
        chosen = [rng.choice(lines) for _ in range(rng.randrange(6))]
        data = b"".join(line + rng.choice([b"\r\n", b"\r\n", b"\n"]) for line in chosen)
        data += rng.choice([b"\r\n", b"\n"]) + b"GET /next HTTP/1.1\r\n"
        plain = io.BytesIO(data)  # no peek(): line by line
        buffered = io.BufferedReader(io.BytesIO(data))
        assert dict(httpwire.read_headers(buffered)) == dict(httpwire.read_headers(plain))
        assert buffered.read() == plain.read()


def test_buffered_header_read_keeps_the_431_limits() -> None:
    data = b"".join(b"H%d: v\r\n" % i for i in range(httpwire.MAX_HEADERS + 1)) + b"\r\n"
    with pytest.raises(httpwire.HeaderError):
        httpwire.read_headers(io.BufferedReader(io.BytesIO(data), buffer_size=1 << 16))


def _reference_murmur2(data: bytes) -> int:
    """The byte-by-byte form the block unpacking replaced."""
    m, mask = 0x5BD1E995, 0xFFFFFFFF
    h = (0x9747B28C ^ len(data)) & mask
    end = len(data) - (len(data) & 3)
    for i in range(0, end, 4):
        k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
        k = (k * m) & mask
        k ^= k >> 24
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    rest = len(data) & 3
    if rest == 3:
        h ^= data[end + 2] << 16
    if rest >= 2:
        h ^= data[end + 1] << 8
    if rest >= 1:
        h ^= data[end]
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def test_murmur2_blocks_match_the_byte_by_byte_form() -> None:
    rng = random.Random(6)
    for length in list(range(0, 41)) + [255, 1024]:
        for _ in range(5):
            data = bytes(rng.randrange(256) for _ in range(length))
            assert murmur2(data) == _reference_murmur2(data), length


def test_key_query_read_on_each_kind_of_store(tmp_path) -> None:
    plain = InMemoryKeyValueStore("plain")
    plain.init()
    plain.put("k", 7)
    stamped = InMemoryKeyValueStore("stamped")
    stamped.init()
    stamped.timestamped = True
    stamped.put("k", (8, 100))
    sqlite = PersistentKeyValueStore("sqlite")
    sqlite.init(tmp_path / "s")
    sqlite.timestamped = True
    sqlite.put("k", (9, 200))
    lock = threading.RLock()
    assert execute.run(plain, lock, KeyQuery.with_key("k")) == 7
    assert execute.run(plain, lock, KeyQuery.with_key("missing")) is None
    assert execute.run(stamped, lock, KeyQuery.with_key("k")) == 8
    assert execute.run(stamped, lock, TimestampedKeyQuery.with_key("k")) == (
        ValueAndTimestamp(8, 100))
    assert execute.run(sqlite, lock, KeyQuery.with_key("k")) == 9
    with pytest.raises(execute.UnsupportedQuery):
        execute.run(plain, lock, TimestampedKeyQuery.with_key("k"))  # keeps no timestamps
    plain.kind = "window"  # a KeyQuery is refused on a store of another kind
    with pytest.raises(execute.UnsupportedQuery):
        execute.run(plain, lock, KeyQuery.with_key("k"))
    sqlite.close()


def _two_partitions(offsets: list[int]) -> list[LocalPartition]:
    parts = []
    for partition in (0, 1):
        store = InMemoryKeyValueStore("kv")
        store.init()
        store.timestamped = True
        store.put(f"k{partition}", (partition * 10, 5))

        def position(p: int = partition) -> Position:
            return Position({"in": {p: offsets[p]}})
        parts.append(LocalPartition(partition, store, nullcontext(), position, True,
                                    f"0_{partition}"))
    return parts


def test_a_key_query_answers_for_every_local_partition_as_kafka_does() -> None:
    parts = _two_partitions([3, 4])
    request = StateQueryRequest.in_store("kv").with_query(KeyQuery.with_key("k1"))
    result = run_request(request, lambda _name: parts, 2)
    assert sorted(result.partition_results) == [0, 1]
    assert result.partition_results[0].is_success()
    assert result.partition_results[0].result is None  # looked at, not there
    assert result.partition_results[1].result == 10
    assert result.partition_results[0].position == Position({"in": {0: 3}})
    assert result.partition_results[1].position == Position({"in": {1: 4}})
    assert result.partition_results[1].execution_info == []
    assert result.get_only_partition_result().result == 10
    assert result.position == Position({"in": {0: 3, 1: 4}})
    timed = run_request(request.enable_execution_info(), lambda _name: parts, 2)
    assert timed.partition_results[1].execution_info[0].startswith(
        "Handled in InMemoryKeyValueStore 'kv' in ")


def test_a_stale_partition_is_retried_until_the_timeout_then_reported() -> None:
    offsets = [3, 4]
    parts = _two_partitions(offsets)
    bound = PositionBound.at({"in": {1: 6}})
    request = (StateQueryRequest.in_store("kv").with_query(KeyQuery.with_key("k1"))
               .with_position_bound(bound))
    refused = run_request(request, lambda _name: parts, 2)
    assert refused.partition_results[1].failure_reason is FailureReason.NOT_UP_TO_BOUND
    assert refused.partition_results[0].is_success()  # not named by the bound

    def catch_up() -> None:
        offsets[1] = 6
    timer = threading.Timer(0.05, catch_up)
    timer.start()
    waited = run_request(request, lambda _name: parts, 2, timeout=5)
    timer.join()
    assert waited.partition_results[1].result == 10
    assert waited.partition_results[1].position == Position({"in": {1: 6}})


def test_positions_copy_deeply_and_unbounded_bounds_are_independent() -> None:
    original = Position({"t": {0: 1}})
    copy = original.copy()
    copy.with_component("t", 0, 9)
    copy.with_component("u", 2, 3)
    assert original.to_dict() == {"t": {0: 1}}
    first, second = PositionBound.unbounded(), PositionBound.unbounded()
    first.position().with_component("t", 0, 1)
    assert second.is_unbounded()


def test_window_key_query_still_runs_on_every_local_partition() -> None:
    parts = _two_partitions([1, 1])
    request = StateQueryRequest.in_store("kv").with_query(
        WindowKeyQuery.with_key_and_window_start_range("k1", 0, 10))
    result = run_request(request, lambda _name: parts, 2)
    assert {p: r.failure_reason for p, r in result.partition_results.items()} == {
        0: FailureReason.UNKNOWN_QUERY_TYPE, 1: FailureReason.UNKNOWN_QUERY_TYPE}


class _CountingLock:
    """A re-entrant lock that counts the holds taken from outside (each one may wait for
    a stream thread's batch)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self.outer_holds = 0

    def __enter__(self) -> _CountingLock:
        self._lock.acquire()
        if self._depth == 0:
            self.outer_holds += 1
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        self._lock.release()


def test_a_window_query_holds_each_thread_lock_once_for_all_its_partitions() -> None:
    from streamnb.state.window import InMemoryWindowStore

    thread_a, thread_b = _CountingLock(), _CountingLock()
    parts = []
    for partition, lock in ((0, thread_a), (1, thread_a), (2, thread_b)):
        store = InMemoryWindowStore("w", 1000, 10, False)
        store.init()
        store.put(f"k{partition}", partition, 20)
        parts.append(LocalPartition(partition, store, lock, Position, True, f"0_{partition}"))
    request = StateQueryRequest.in_store("w").with_query(
        WindowKeyQuery.with_key_and_window_start_range("k1", 0, 100))
    result = run_request(request, lambda _name: parts, 3)
    assert list(result.partition_results) == [0, 1, 2]  # the order locate gave
    assert [r.result for r in result.partition_results.values()] == [[], [(20, 1)], []]
    assert (thread_a.outer_holds, thread_b.outer_holds) == (1, 1)
    key = StateQueryRequest.in_store("w").with_query(KeyQuery.with_key("k1"))
    run_request(key, lambda _name: parts, 3)  # refused per partition, no grouped hold
    assert (thread_a.outer_holds, thread_b.outer_holds) == (1, 1)


def _fake_service(stores: dict[int, InMemoryKeyValueStore]):
    """A QueryService over a fake running client: one thread, one task per partition."""
    from types import SimpleNamespace

    from streamnb.query.metadata import HostInfo, KeyQueryMetadata
    from streamnb.query.service import QueryService
    from streamnb.runtime.states import State

    tasks = {f"0_{p}": SimpleNamespace(task_id=f"0_{p}", partition=p, stores={"kv": s})
             for p, s in stores.items()}
    inputs = {("in", p): SimpleNamespace(topic="in", partition=p, offset=40 + p,
                                         task=tasks[f"0_{p}"]) for p in stores}
    thread = SimpleNamespace(state="RUNNING", tasks=tasks, lock=threading.RLock(),
                             _inputs=inputs)
    streams = SimpleNamespace(_threads=[thread], _global=None, client_id="me",
                              state=lambda: State.RUNNING,
                              topology=SimpleNamespace(stores={"kv": None}, global_stores={}))
    service = QueryService.__new__(QueryService)
    service.streams, service._known, service._kinds = streams, {"kv"}, {"kv": "key_value"}
    service.store_partition_count = lambda _store: len(stores)
    service.query_metadata_for_key = lambda _store, key: KeyQueryMetadata(
        HostInfo("h", 1), frozenset(), int(key[-1]) % len(stores), "me", True)
    return service


def test_the_direct_key_read_answers_as_the_routed_query_does() -> None:
    from streamnb.query.rest_handlers import Handlers

    stores = {}
    for partition in (0, 1):
        store = InMemoryKeyValueStore("kv")
        store.init()
        store.timestamped = True
        store.put(f"k{partition}", (f"v{partition}", 7))
        stores[partition] = store
    service = _fake_service(stores)
    value, position = service.read_key("kv", 1, TimestampedKeyQuery.with_key("k1"))
    routed = service.query(StateQueryRequest.in_store("kv").with_query(
        TimestampedKeyQuery.with_key("k1")).with_partitions({1}))
    assert value == routed.partition_results[1].result == ValueAndTimestamp("v1", 7)
    assert position == routed.partition_results[1].position == Position({"in": {1: 41}})
    assert service.read_key("kv", 2, KeyQuery.with_key("k1")) is None  # not here
    assert service.read_key("kv", 1, WindowKeyQuery.with_key_and_window_start_range(
        "k1", 0, 1)) is None  # refused: the full query says why

    handlers = Handlers(service)
    handlers._stamped["kv"] = True
    direct_reads = []
    read_key = service.read_key
    service.read_key = lambda *args: direct_reads.append(args) or read_key(*args)
    direct = handlers._keyed("kv", "k1", TimestampedKeyQuery.with_key("k1"),
                             {"key": ["k1"]}, {}, "/x")
    service.read_key = lambda *_args: None  # the general path
    general = handlers._keyed("kv", "k1", TimestampedKeyQuery.with_key("k1"),
                              {"key": ["k1"]}, {}, "/x")
    assert len(direct_reads) == 1  # the first answer came from the direct read
    assert direct == general
    assert list(direct[1]) == list(general[1])  # the same JSON, field order included
    assert jsonio.dumps(direct[1]) == jsonio.dumps(general[1])


def test_a_lone_parameter_other_than_the_key_is_still_checked() -> None:
    # The fast path for a request carrying only ``key`` must not skip checking a request
    # carrying only something else: the owner it fans out to would refuse it instead.
    from streamnb.query.params import ApiError
    from streamnb.query.rest_handlers import Handlers

    handlers = Handlers(_fake_service({0: InMemoryKeyValueStore("kv")}))
    query = KeyQuery.with_key("k")
    with pytest.raises(ApiError, match="execution_info") as info:
        handlers._request("kv", query, {"execution_info": ["-1"]})
    assert info.value.status == 400
    assert handlers._request("kv", query, {"execution_info": ["true"]}).execution_info_enabled
    assert not handlers._request("kv", query, {"key": ["k"]}).execution_info_enabled
    assert not handlers._request("kv", query, {}).execution_info_enabled


# -- bad input the REST layer must answer with a 4xx, never a 5xx ----------------------------
@pytest.mark.parametrize("text, reason", [
    ('{"t": {"0": 1e400}}', "must be an integer, got inf"),  # was OverflowError: a 500
    ('{"t": {"0": Infinity}}', "must be an integer, got inf"),
    ('{"t": {"0": 1.5}}', "must be an integer, got 1.5"),  # was silently 1
    ("[" * 5000, "nested far too deeply"),  # was RecursionError: a 500
], ids=["1e400", "Infinity", "1.5", "deep"])
def test_a_malformed_position_is_a_400_naming_it(text, reason) -> None:
    from streamnb.query.params import position_bound

    with pytest.raises(ApiError, match=reason) as info:
        position_bound({"position": [text]})
    assert (info.value.status, info.value.code) == (400, "malformed_position")
    assert position_bound({"position": ['{"t": {"0": 4.0}}']}).position() == Position(
        {"t": {0: 4}})


@pytest.mark.parametrize("key_type", ["json", "auto"])
def test_a_key_nested_past_any_real_key_is_a_400(key_type) -> None:
    from streamnb.query.params import MAX_KEY_DEPTH, parse_key

    for depth in (MAX_KEY_DEPTH + 1, 5000):  # 5000: past the JSON decoder's stack
        with pytest.raises(ApiError, match="deeper than") as info:
            parse_key("[" * depth + "]" * depth, key_type)
        assert (info.value.status, info.value.code) == (400, "malformed_key")
    assert parse_key("[[1, \"a\"], 2]", key_type) == ((1, "a"), 2)


def _handlers(kind: str = "key_value", serde=None):
    """Handlers over ``_fake_service`` with store ``kv`` of ``kind`` and key ``serde``."""
    from types import SimpleNamespace

    from streamnb.query.rest_handlers import Handlers
    from streamnb.serde import Serdes

    service = _fake_service({0: InMemoryKeyValueStore("kv")})
    service._kinds = {"kv": kind}
    key_serde = serde or Serdes.String()
    service.metadata = SimpleNamespace(key_serde=lambda _store: key_serde,
                                       invalidate=lambda: None)
    service.streams.config = {"streamnb.rest.page.max": 1000}

    def owner(_store, key):
        key_serde.serialize("in", key)  # raises as MetadataService does for a wrong type
        return KeyQueryMetadata(HostInfo("h", 1), frozenset(), 0, "me", True)
    service.query_metadata_for_key = owner
    return Handlers(service)


@pytest.mark.parametrize("endpoint, params", [
    ("key", {"key": ["5"], "key_type": ["int"]}),  # was 404 from the local partitions only
    ("metadata", {"key": ["5"], "key_type": ["int"]}),  # was 503 no_metadata
    ("range", {"from": ["5"], "key_type": ["int"]}),  # was 200 with an empty page
    ("range", {"to": ["[1]"], "key_type": ["json"]}),
    ("range", {"after": ["2.5"], "key_type": ["float"]}),
])
def test_a_key_of_another_type_than_the_stores_is_a_400(endpoint, params) -> None:
    handlers = _handlers()
    call = {"key": lambda: handlers.key("kv", params, {}, "/x"),
            "metadata": lambda: handlers.key_metadata("kv", params, {}),
            "range": lambda: handlers.range("kv", params, {}, "/x")}[endpoint]
    with pytest.raises(ApiError, match="cannot be a key of store 'kv'.*drop key_type") as info:
        call()
    assert (info.value.status, info.value.code) == (400, "malformed_key")
    # the store's own type passes: a string, whatever key_type says it is read as
    assert handlers.range("kv", {"from": ['"5"'], "key_type": ["json"]}, {}, "/x")[0] == 200


@pytest.mark.parametrize("kind, endpoint, name", [
    ("window", "window", "from"), ("window", "window", "to"),
    ("versioned", "versioned", "as_of"), ("versioned", "versioned", "to"),
])
def test_a_time_past_kafkas_long_is_a_400(kind, endpoint, name) -> None:
    handlers = _handlers(kind)
    params = {"key": ["a"], "from": ["0"], "to": ["5"], name: [str(2**63)]}
    if name == "as_of":
        del params["from"], params["to"]
    with pytest.raises(ApiError, match=f"'{name}' must be <= {2**63 - 1}") as info:
        getattr(handlers, endpoint)("kv", params, {}, "/x")
    assert info.value.status == 400


def test_a_partition_that_failed_fails_the_range_instead_of_leaving_a_gap() -> None:
    from streamnb.query import RangeQuery
    from streamnb.query.results import QueryResult, StateQueryResult

    handlers = _handlers()
    result = StateQueryResult(RangeQuery.with_no_bounds())
    result.add_result(0, QueryResult([("a", 1)]))
    result.add_result(1, QueryResult.for_failure(FailureReason.STORE_EXCEPTION,
                                                 "OSError in store 'kv': disk"))
    with pytest.raises(ApiError, match="disk") as info:  # was a 200 with partition 0 alone
        handlers._gather("kv", result, {"local_only": ["true"]}, {}, "/x")
    assert (info.value.status, info.value.code) == (500, "store_exception")
