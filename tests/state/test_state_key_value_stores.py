"""One suite over both key-value stores (in-memory and persistent): identical behaviour.

The persistent store adds what only it has: reopening a directory, un-flushed writes that
reads must see, batched commits, checkpoints and the sqlite file it owns.
"""

from __future__ import annotations

import json
import os
import time
from collections import namedtuple

import pytest

from streamnb import Materialized, Stores, StreamsBuilder, TopologyTestDriver
from streamnb.errors import InvalidStateStoreException, ProcessorStateException
from streamnb.processor import KeyValue
from streamnb.state.memory import InMemoryKeyValueStore
from streamnb.state.persistent import (
    CHECKPOINT_FILE,
    DB_FILE,
    PersistentKeyValueStore,
    encode_key,
)

KINDS = ["in_memory", "persistent"]


def make_store(kind, tmp_path, name="s", **kwargs):
    if kind == "in_memory":
        store = InMemoryKeyValueStore(name)
        store.init(None)
    else:
        store = PersistentKeyValueStore(name, **kwargs)
        store.init(tmp_path / name)
    return store


@pytest.fixture(params=KINDS)
def store(request, tmp_path):
    s = make_store(request.param, tmp_path)
    yield s
    if s.is_open:
        s.close()


def items(it):
    return [tuple(kv) for kv in it]


# -- CRUD and tombstones --------------------------------------------------------------------
def test_get_put_overwrite_and_missing(store):
    assert store.get("a") is None
    store.put("a", 1)
    store.put("b", {"x": [1, 2]})
    store.put("a", 2)
    assert store.get("a") == 2
    assert store.get("b") == {"x": [1, 2]}
    assert store.get("zzz") is None


def test_none_value_is_a_tombstone_and_delete_returns_old(store):
    store.put("a", 1)
    store.put("a", None)
    assert store.get("a") is None
    assert items(store.all()) == []
    store.put("b", 2)
    assert store.delete("b") == 2
    assert store.delete("b") is None
    assert store.get("b") is None
    store.flush()
    assert store.get("b") is None
    assert store.approximate_num_entries() == 0


def test_tombstone_after_flush_deletes_the_row(store):
    store.put("a", 1)
    store.flush()
    store.put("a", None)
    assert store.get("a") is None
    assert items(store.all()) == []
    store.flush()
    assert store.get("a") is None
    assert store.approximate_num_entries() == 0


def test_unpicklable_key_fails_at_put_in_the_persistent_store(tmp_path):
    class Local:  # a local class cannot be pickled
        pass

    s = make_store("persistent", tmp_path)
    with pytest.raises(TypeError, match="cannot be pickled"):
        s.put(Local(), 1)
    s.close()


def test_none_key_is_rejected_with_a_clear_error(store):
    with pytest.raises(ValueError, match="keys must not be None"):
        store.put(None, 1)
    with pytest.raises(ValueError, match="keys must not be None"):
        store.put(None, None)


def test_unhashable_key_raises_type_error(store):
    with pytest.raises(TypeError):
        store.put(["a", "list"], 1)


def test_put_if_absent(store):
    assert store.put_if_absent("k", 1) is None
    assert store.put_if_absent("k", 2) == 1
    assert store.get("k") == 1
    store.flush()
    assert store.put_if_absent("k", 3) == 1
    assert store.get("k") == 1


def test_put_all(store):
    store.put_all([("a", 1), ("b", 2), ("a", 3), ("c", None)])
    assert items(store.all()) == [("a", 3), ("b", 2)]


def test_get_returns_keyvalue_pairs(store):
    store.put("a", 1)
    kv = next(store.all())
    assert isinstance(kv, KeyValue)
    assert kv.key == "a" and kv.value == 1


# -- order and ranges -----------------------------------------------------------------------
def test_all_and_reverse_all_are_in_key_order(store):
    for k in [5, 1, 9, 3, 7]:
        store.put(k, k * 10)
    assert [kv.key for kv in store.all()] == [1, 3, 5, 7, 9]
    assert [kv.key for kv in store.reverse_all()] == [9, 7, 5, 3, 1]


def test_range_bounds_are_inclusive(store):
    for k in range(10):
        store.put(k, str(k))
    assert [kv.key for kv in store.range(3, 6)] == [3, 4, 5, 6]
    assert [kv.key for kv in store.reverse_range(3, 6)] == [6, 5, 4, 3]
    assert [kv.key for kv in store.range(None, 2)] == [0, 1, 2]
    assert [kv.key for kv in store.range(8, None)] == [8, 9]
    assert [kv.key for kv in store.range(4, 4)] == [4]
    assert items(store.range(6, 3)) == []
    assert [kv.key for kv in store.range(2.5, 4.5)] == [3, 4]


def test_str_range(store):
    for k in ["apple", "banana", "cherry", "date"]:
        store.put(k, len(k))
    assert [kv.key for kv in store.range("b", "cherry")] == ["banana", "cherry"]
    assert [kv.key for kv in store.reverse_range("b", "d")] == ["cherry", "banana"]


@pytest.mark.parametrize("keys, prefix, expected", [
    (["ab", "abc", "b", "a", "abd"], "ab", ["ab", "abc", "abd"]),
    ([b"\x00\x01", b"\x00\x02", b"\x01", b"\x00"], b"\x00", [b"\x00", b"\x00\x01", b"\x00\x02"]),
    ([("u1", 2), ("u1", 1), ("u2", 1), ("u1",)], ("u1",), [("u1",), ("u1", 1), ("u1", 2)]),
])
def test_prefix_scan(store, keys, prefix, expected):
    for k in keys:
        store.put(k, "v")
    store.put(42, "other type")
    assert [kv.key for kv in store.prefix_scan(prefix)] == expected


class Opaque:
    """A hashable key type without ordering (module level, so that it pickles)."""

    def __init__(self, n):
        self.n = n

    def __eq__(self, other):
        return isinstance(other, Opaque) and other.n == self.n

    def __hash__(self):
        return hash(self.n)

    def __repr__(self):
        return f"Opaque({self.n})"


def test_mixed_key_types_do_not_crash(store):
    keys = [3, "a", b"x", (1, "z"), ("a", 1), 2.5, Opaque(1), Opaque(2), frozenset({1})]
    for i, k in enumerate(keys):
        store.put(k, i)
    all_keys = [kv.key for kv in store.all()]
    assert sorted(all_keys, key=repr) == sorted(keys, key=repr)
    assert [kv.key for kv in store.reverse_all()] == all_keys[::-1]
    assert [kv.key for kv in store.range(1, 3)] == [2.5, 3]
    assert [kv.key for kv in store.prefix_scan("a")] == ["a"]
    for i, k in enumerate(keys):
        assert store.get(k) == i


def test_mixed_order_is_the_same_for_both_stores(tmp_path):
    keys = [3, "b", "a", b"x", (1, "z"), ("a", 1), 2.5, 1, (2,), "c"]
    orders = []
    for kind in KINDS:
        s = make_store(kind, tmp_path / kind)
        for k in keys:
            s.put(k, 0)
        orders.append([kv.key for kv in s.all()])
        s.close()
    assert orders[0] == orders[1]


def test_equal_keys_of_different_types_are_one_key(store):
    Point = namedtuple("Point", "x y")
    store.put(1, "int")
    store.put(1.0, "float")
    assert store.get(True) == "float"
    store.put((1, 2), "tuple")
    assert store.get(Point(1, 2)) == "tuple"
    assert store.approximate_num_entries() == 2


def test_approximate_num_entries(store):
    assert store.approximate_num_entries() == 0
    for i in range(50):
        store.put(i, i)
    assert store.approximate_num_entries() == 50
    store.flush()
    for i in range(40, 60):  # 10 overwrites, 10 new
        store.put(i, -i)
    for i in range(0, 5):  # flushed keys deleted
        store.delete(i)
    store.put(55, None)  # un-flushed key deleted again
    store.put(1000, None)  # delete of a key that never existed
    assert store.approximate_num_entries() == 50 + 10 - 5 - 1
    store.flush()
    assert store.approximate_num_entries() == 54


# -- change logging -------------------------------------------------------------------------
def test_change_logger_is_called_once_per_write(store):
    calls = []
    store._change_logger = lambda k, v: calls.append((k, v))
    store.put("a", 1)
    store.put_if_absent("a", 2)  # no write, no log
    store.put_if_absent("b", 2)
    store.put_all([("c", 3), ("a", 4)])
    store.delete("c")
    store.put("d", None)
    store.flush()
    assert calls == [("a", 1), ("b", 2), ("c", 3), ("a", 4), ("c", None), ("d", None)]


def test_restore_does_not_log(store):
    calls = []
    store._change_logger = lambda k, v: calls.append((k, v))
    store._restore("a", 1)
    store._restore("b", 2)
    store._restore("a", None)
    assert calls == []
    assert items(store.all()) == [("b", 2)]


# -- closed stores --------------------------------------------------------------------------
def test_closed_store_raises_a_clear_error(store):
    store.put("a", 1)
    store.close()
    assert not store.is_open
    calls = [
        lambda: store.get("a"), lambda: store.put("a", 2), lambda: store.put_if_absent("b", 1),
        lambda: store.delete("a"), lambda: store.all(), lambda: store.range("a", "b"),
        lambda: store.prefix_scan("a"), lambda: store.approximate_num_entries(),
        lambda: store._restore("a", 1),
    ]
    for call in calls:
        with pytest.raises(InvalidStateStoreException, match="'s' is not open"):
            call()
    store.close()  # closing twice is harmless


def test_reinit_after_close_is_usable(store, tmp_path):
    store.put("a", 1)
    store.close()
    store.init(tmp_path / "s" if store.persistent else None)
    store.put("b", 2)
    assert store.get("b") == 2
    # The in-memory store starts empty again (as Kafka's); the persistent one kept "a".
    assert store.get("a") == (1 if store.persistent else None)
    store.close()


# -- persistent store only ------------------------------------------------------------------
def test_persistent_reopen_sees_the_data(tmp_path):
    s = PersistentKeyValueStore("p")
    s.init(tmp_path / "p")
    s.put("a", (1, 100))
    s.put(("t", 1), {"nested": [1, 2]})
    s.put("gone", 1)
    s.flush()
    s.put("gone", None)
    s.put("late", b"bytes")  # not flushed: close must write it
    s.close()

    again = PersistentKeyValueStore("p")
    again.init(tmp_path / "p")
    assert items(again.all()) == [
        ("a", (1, 100)), ("late", b"bytes"), (("t", 1), {"nested": [1, 2]}),
    ]
    assert again.get("gone") is None
    assert again.approximate_num_entries() == 3
    again.close()


def test_persistent_unflushed_writes_are_merged_into_reads_and_ranges(tmp_path):
    s = make_store("persistent", tmp_path, cache_entries=0)  # no read cache: sqlite each time
    for k in [1, 3, 5, 7]:
        s.put(k, "disk")
    s.flush()
    before = s.commit_count
    s.put(4, "mem")      # new, un-flushed
    s.put(5, "mem")      # overwrite of a flushed key
    s.put(7, None)       # delete of a flushed key
    assert s.commit_count == before  # nothing written yet
    assert s.get(4) == "mem" and s.get(5) == "mem" and s.get(7) is None and s.get(3) == "disk"
    assert items(s.all()) == [(1, "disk"), (3, "disk"), (4, "mem"), (5, "mem")]
    assert items(s.range(2, 7)) == [(3, "disk"), (4, "mem"), (5, "mem")]
    assert items(s.reverse_range(2, 7)) == [(5, "mem"), (4, "mem"), (3, "disk")]
    assert s.approximate_num_entries() == 4
    s.flush()
    assert items(s.all()) == [(1, "disk"), (3, "disk"), (4, "mem"), (5, "mem")]
    s.close()


def test_persistent_flush_writes_in_one_transaction(tmp_path):
    s = make_store("persistent", tmp_path)
    start = time.perf_counter()
    for i in range(10_000):
        s.put(f"k{i}", (i, i))
    assert s.commit_count == 0
    s.flush()
    elapsed = time.perf_counter() - start
    assert s.commit_count == 1
    s.flush()  # nothing pending: no transaction
    assert s.commit_count == 1
    assert elapsed < 5.0, f"10,000 puts + flush took {elapsed:.2f}s"
    assert s.approximate_num_entries() == 10_000
    s.close()


def test_persistent_early_write_bounds_the_dirty_map(tmp_path):
    s = make_store("persistent", tmp_path, max_dirty_entries=100)
    for i in range(250):
        s._restore(i, i)
    assert s.commit_count == 2  # at 100 and 200 pending keys
    assert len(s._dirty) == 50
    assert s.approximate_num_entries() == 250
    assert [kv.key for kv in s.range(98, 101)] == [98, 99, 100, 101]
    s.close()


def test_persistent_read_cache_is_bounded(tmp_path):
    s = make_store("persistent", tmp_path, cache_entries=10)
    for i in range(100):
        s.put(i, i)
    s.flush()
    for i in range(100):
        assert s.get(i) == i
    assert len(s._cache) == 10
    s.close()


def test_persistent_file_layout_and_sqlitedict_compatibility(tmp_path):
    from sqlitedict import SqliteDict

    s = make_store("persistent", tmp_path, name="counts")
    s.put("word", (3, 42))
    s.close()
    path = tmp_path / "counts" / DB_FILE
    assert path.is_file()
    # journal_mode="WAL": the store's file is in WAL mode; sqlitedict's default ("DELETE")
    # would try to switch it, which needs an exclusive lock.
    with SqliteDict(str(path), tablename="kv", flag="r", journal_mode="WAL") as db:
        assert dict(db.items()) == {encode_key("word"): ("word", (3, 42))}


def test_persistent_unpicklable_value_fails_clearly_and_keeps_the_write(tmp_path):
    s = make_store("persistent", tmp_path)
    s.put("ok", 1)
    s.put("bad", lambda: None)
    with pytest.raises(ProcessorStateException, match="'bad' cannot be pickled"):
        s.flush()
    assert s.commit_count == 0  # the transaction was rolled back
    assert s.get("ok") == 1  # still pending, not lost
    s.put("bad", "fixed")
    s.flush()
    assert items(s.all()) == [("bad", "fixed"), ("ok", 1)]
    s.close()


def test_persistent_refuses_a_symlinked_store_file(tmp_path):
    elsewhere = tmp_path / "elsewhere.sqlite"
    elsewhere.write_bytes(b"")
    (tmp_path / "s").mkdir()
    os.symlink(elsewhere, tmp_path / "s" / DB_FILE)
    s = PersistentKeyValueStore("s")
    with pytest.raises(ProcessorStateException, match="is a symlink"):
        s.init(tmp_path / "s")


def test_persistent_without_directory_uses_a_private_temp_dir(tmp_path):
    s = PersistentKeyValueStore("tmp")
    s.init(None)
    s.put("a", 1)
    s.flush()
    where = s.directory
    assert (where / DB_FILE).is_file()
    if hasattr(os, "getuid"):
        assert (where.stat().st_mode & 0o077) == 0
    s.close()
    assert not where.exists()


def test_persistent_checkpoint_written_at_flush_after_the_data(tmp_path):
    s = make_store("persistent", tmp_path)
    assert s.read_checkpoint() is None
    s.put("a", 1)
    s.checkpoint({("app-s-changelog", 0): 41, "other-topic": 7})
    assert s.read_checkpoint() is None  # not before flush
    s.flush()
    assert s.read_checkpoint() == {("app-s-changelog", 0): 41, "other-topic": 7}
    data = json.loads((tmp_path / "s" / CHECKPOINT_FILE).read_text())
    assert data["version"] == 1 and data["store"] == "s"
    s.checkpoint({("app-s-changelog", 0): 42})
    s.close()  # close flushes the pending checkpoint too

    again = PersistentKeyValueStore("s")
    again.init(tmp_path / "s")
    assert again.read_checkpoint() == {("app-s-changelog", 0): 42}
    assert again.get("a") == 1
    again.clear_checkpoint()
    assert again.read_checkpoint() is None
    assert not list((tmp_path / "s").glob("*.tmp"))
    again.close()


def test_persistent_checkpoint_rejects_bad_input_and_ignores_a_corrupt_file(tmp_path):
    s = make_store("persistent", tmp_path)
    with pytest.raises(TypeError, match="topic name or a \\(topic, partition\\) tuple"):
        s.checkpoint({3: 1})
    with pytest.raises(TypeError, match="must be an int"):
        s.checkpoint({"t": "1"})
    (tmp_path / "s" / CHECKPOINT_FILE).write_text("{not json")
    assert s.read_checkpoint() is None
    s.close()


# -- through the DSL ------------------------------------------------------------------------
LINES = ["All Streams lead to Kafka", "Hello Kafka Streams", "Join Kafka Summit"]


def word_counts(materialized, config):
    builder = StreamsBuilder()
    (
        builder.stream("lines")
        .flat_map_values(lambda line: line.lower().split())
        .group_by(lambda _k, word: word)
        .count(materialized=materialized)
        .to_stream()
        .to("counts-out")
    )
    with TopologyTestDriver(builder.build(), config) as driver:
        inp = driver.create_input_topic("lines")
        out = driver.create_output_topic("counts-out")
        for line in LINES:
            inp.pipe_input(None, line)
        store = driver._task.stores["counts"]
        store_dir = None
        if config and "state.dir" in config:
            store_dir = os.path.join(config["state.dir"], driver.app_id, "0_0", "counts")
            assert os.path.isdir(store_dir)  # while the driver runs
        final = items(driver.get_key_value_store("counts").all())
        return out.read_key_values_to_list(), final, type(store).__name__, store_dir


@pytest.mark.parametrize("materialized", [
    lambda: Materialized.as_(Stores.persistent_key_value_store("counts")),
    lambda: Materialized.as_("counts").with_store_type("persistent"),
], ids=["supplier", "store_type"])
def test_dsl_persistent_store_counts_like_in_memory(tmp_path, materialized):
    expected, expected_final, kind, _ = word_counts(Materialized.as_("counts"), None)
    assert kind == "InMemoryKeyValueStore"
    config = {"state.dir": str(tmp_path)}
    got, final, kind, store_dir = word_counts(materialized(), config)
    assert kind == "PersistentKeyValueStore"
    assert got == expected
    assert final == expected_final
    assert ("kafka", 3) in final
    assert os.path.isfile(os.path.join(store_dir, DB_FILE))
