"""Column decoding of JSON keys and values (runtime/json_columns.py), and a commit that
does not hold the stream thread's lock while it waits for the broker."""

from __future__ import annotations

import json
import random
import threading
from types import SimpleNamespace

import pytest

from streamnb.runtime import json_columns
from streamnb.runtime.json_columns import JsonColumn, decode_all
from streamnb.runtime.metrics import ThreadMetrics
from streamnb.runtime.stream_thread import StreamThread, _Input

DOCS = [b'"a"', b"1", b"-2.5", b"true", b"false", b"null", b'{"x":[1,2]}', b"[1]", b" 3",
        b'"x" ', b'"\\u00e9\\n"', '"日本"'.encode(), b"1e400", b"NaN", b'"a\\"b"', b"0"]


@pytest.fixture(autouse=True)
def _empty_cache():
    json_columns._cache.clear()
    yield
    json_columns._cache.clear()


def _loads(raw):
    return [None if doc is None else json.loads(doc) for doc in raw]


def test_columns_decode_as_json_loads_with_nulls_repeats_and_blanks():
    column = JsonColumn()
    rng = random.Random(7)
    for _ in range(200):
        raw = [rng.choice(DOCS + [None]) for _ in range(rng.randrange(1, 40))]
        # json.dumps compares NaN by its text (NaN != NaN as a float)
        assert json.dumps(column(raw)) == json.dumps(_loads(raw))


def test_a_column_of_tombstones_only_stays_none():
    assert JsonColumn()([None, None]) == [None, None]


def test_repeated_documents_come_from_the_cache_mutable_ones_never():
    column = JsonColumn()
    column([b'"word"', b"7", b'{"n":1}', b"[1]"])
    assert set(json_columns._cache) == {b'"word"', b"7"}
    first = column([b'{"n":1}'])[0]
    first["changed"] = True  # a user mutating a record must not change the next one
    assert column([b'{"n":1}']) == [{"n": 1}]


def test_long_documents_are_not_cached_and_the_cache_is_bounded(monkeypatch):
    column = JsonColumn()
    long_doc = json.dumps("x" * json_columns.CACHE_DOC_BYTES).encode()
    assert column([long_doc]) == ["x" * json_columns.CACHE_DOC_BYTES]
    assert long_doc not in json_columns._cache
    monkeypatch.setattr(json_columns, "CACHE_ENTRIES", 10)
    for start in range(0, 40, 4):
        raw = [b"%d" % n for n in range(start, start + 4)]
        assert column(raw) == list(range(start, start + 4))
        assert len(json_columns._cache) <= 10


def test_a_column_of_new_documents_backs_off_from_lookups():
    column = JsonColumn()
    for batch in range(6):
        raw = [b"%d" % (batch * 100 + n) for n in range(10)]
        assert column(raw) == [batch * 100 + n for n in range(10)]
    assert column._skip > 0 and column._misses >= 2
    # while it skips lookups it still decodes correctly
    assert column([b'"w"', None, b"2"]) == ["w", None, 2]


@pytest.mark.parametrize("bad", [[b'"open'], [b"\xff"], [b""], [b"1", b"1 2"], [b"{}x"]])
def test_invalid_documents_raise_so_the_caller_takes_its_checked_path(bad):
    with pytest.raises(ValueError):  # JSONDecodeError and UnicodeDecodeError
        JsonColumn()(bad)


def test_decode_all_matches_json_loads():
    assert json.dumps(decode_all(DOCS)) == json.dumps(_loads(DOCS))


# -- commit and the lock -----------------------------------------------------------------
class _Task:
    def __init__(self, lock, seen):
        self.lock, self.seen = lock, seen

    def commit(self):
        self.seen.append(("task.commit", _held_elsewhere(self.lock)))


def _held_elsewhere(lock) -> bool:
    """Whether another thread could not take ``lock`` now (a query would wait)."""
    got = []

    def probe() -> None:
        got.append(lock.acquire(blocking=False))
        if got[0]:
            lock.release()
    prober = threading.Thread(target=probe)
    prober.start()
    prober.join()
    return not got[0]


@pytest.mark.parametrize("eos", [False, True])
def test_commit_holds_the_lock_for_stores_only_not_for_broker_round_trips(eos):
    seen: list = []
    thread = StreamThread.__new__(StreamThread)
    thread.lock = threading.RLock()
    thread.metrics = ThreadMetrics("t")
    thread._eos = eos
    thread._in_txn = True
    thread.tasks = {"0_0": _Task(thread.lock, seen)}
    inp = _Input("in", 0, SimpleNamespace(), None, None, None)
    inp.offset = 41
    thread._inputs = {("in", 0): inp}
    held = lambda name: lambda *a, **k: seen.append((name, _held_elsewhere(thread.lock)))  # noqa: E731
    thread.collector = SimpleNamespace(drain=held("drain"), flush=held("flush"),
                                       check=lambda: None)
    thread._consumer = SimpleNamespace(commit=held("consumer.commit"),
                                       consumer_group_metadata=lambda: "meta")
    thread._producer = SimpleNamespace(send_offsets_to_transaction=held("send_offsets"),
                                       commit_transaction=held("commit_transaction"))
    thread.commit()
    expected = [("task.commit", True), ("drain", True)]
    expected += ([("send_offsets", False), ("commit_transaction", False)] if eos else
                 [("flush", False), ("consumer.commit", False)])
    assert seen == expected
    assert inp.committed == 42
    assert thread._in_txn is False or not eos


@pytest.mark.parametrize("doc", DOCS + [b'{"a": [1, {"b": null}]}', bytearray(b"[2]")])
def test_one_document_decodes_as_json_loads(doc):
    assert json.dumps(json_columns.decode_one(doc)) == json.dumps(json.loads(doc))


@pytest.mark.parametrize("bad", [b"", b"\xff", b'"open', b"1 2"])
def test_one_bad_document_raises_json_loads_error(bad):
    with pytest.raises(ValueError):
        json_columns.decode_one(bad)
