"""Paged range queries: cursor walks equal a sorted scan, on in-memory and sqlite stores,
and pages after the first reuse one sorted snapshot (no O(n) work per page)."""

from __future__ import annotations

import random
from contextlib import nullcontext

import pytest

from streamnb.query import RangeQuery, paging
from streamnb.query.execute import run
from streamnb.query.queries import NO_CURSOR
from streamnb.state.memory import InMemoryKeyValueStore
from streamnb.state.persistent import PersistentKeyValueStore


def walk(store, limit, lower=None, upper=None, descending=False, version=None):
    out, after = [], NO_CURSOR
    while True:
        query = RangeQuery.with_range(lower, upper).with_page(limit, after)
        if descending:
            query = query.with_descending_keys()
        page = run(store, nullcontext(), query, version)
        out.extend((kv.key, kv.value) for kv in page)
        if len(page) < limit:
            return out
        after = page[-1].key


def expected(data, lower=None, upper=None, descending=False):
    keys = sorted((k for k in data if (lower is None or k >= lower)
                   and (upper is None or k <= upper)), reverse=descending)
    return [(k, data[k]) for k in keys]


@pytest.fixture(params=["memory", "sqlite"])
def store(request, tmp_path):
    s = (InMemoryKeyValueStore("m") if request.param == "memory"
         else PersistentKeyValueStore("p", max_dirty_entries=50))
    s.init(tmp_path / "store")
    yield s
    s.close()


@pytest.mark.parametrize("kind", [str, int])
def test_cursor_walks_equal_a_sorted_scan(store, kind):
    rng = random.Random(3)
    data = {}
    for i in range(700):
        key = kind(rng.randrange(2000)) if kind is int else f"k{rng.randrange(2000):04d}"
        data[key] = i
        store.put(key, i)
    for key in list(data)[::7]:  # deletes, some flushed and some pending in sqlite
        store.delete(key)
        del data[key]
    if isinstance(store, PersistentKeyValueStore):
        store.flush()
        for key in list(data)[:40]:
            store.put(key, -1)
            data[key] = -1
        store.delete(list(data)[50])
        del data[list(data)[50]]
    lo, hi = (kind(300), kind(1500)) if kind is int else ("k0300", "k1500")
    for limit in (1, 7, 100, 5000):
        assert walk(store, limit) == expected(data)
        assert walk(store, limit, descending=True) == expected(data, descending=True)
        assert walk(store, limit, lo, hi) == expected(data, lo, hi)
        assert walk(store, limit, lo, hi, True) == expected(data, lo, hi, True)


def test_sqlite_str_keys_page_by_sql_with_pending_writes_overlaid(tmp_path):
    store = PersistentKeyValueStore("p")
    store.init(tmp_path / "p")
    for i in range(10):
        store.put(f"k{i}", i)
    store.flush()
    store.put("k55", "pending")
    store.delete("k6")
    page = paging.sql_page(store, nullcontext(), None, None, False, "k3", 4)
    assert page == [("k4", 4), ("k5", 5), ("k55", "pending"), ("k7", 7)]
    assert paging.sql_page(store, nullcontext(), None, "k2", True, NO_CURSOR, 2) == [
        ("k2", 2), ("k1", 1)]
    store.put(5, "an int key")  # encoded order no longer matches Python's: not by SQL
    assert paging.sql_page(store, nullcontext(), None, None, False, NO_CURSOR, 2) is None
    assert paging.sql_page(store, nullcontext(), "k", None, False, NO_CURSOR, 1) == [("k0", 0)]
    store.close()


def test_mixed_key_types_still_page_without_error(store):
    for key in ["b", 2, "a", 1, (1, "x")]:
        store.put(key, str(key))
    keys = [k for k, _v in walk(store, 2)]
    assert sorted(map(repr, keys)) == sorted(map(repr, ["b", 2, "a", 1, (1, "x")]))
    assert [k for k, _v in walk(store, 2, "a", "z")] == ["a", "b"]


def test_pages_reuse_one_snapshot_until_the_store_moves():
    store = InMemoryKeyValueStore("big")
    store.init()
    for i in range(50_000):
        store.put(f"k{i:06d}", i)
    before = paging.stats["builds"]
    walk_first = run(store, nullcontext(), RangeQuery.with_no_bounds().with_page(10), "v1")
    after = walk_first[-1].key
    for _ in range(20):  # same version: every later page is a bisect, no new snapshot
        page = run(store, nullcontext(), RangeQuery.with_no_bounds().with_page(10, after),
                   "v1")
        after = page[-1].key
    assert paging.stats["builds"] == before + 1
    assert after == "k000209"
    store.put("k000205x", -1)  # a new key: the store's version moved
    paging._snapshots[store].built_at -= 60  # (past the rebuild rate limit)
    page = run(store, nullcontext(), RangeQuery.with_range("k000205", "k000206").with_page(5),
               "v2")
    assert [kv.key for kv in page] == ["k000205", "k000205x", "k000206"]
    assert paging.stats["builds"] == before + 2


def test_a_position_bound_forces_a_current_snapshot():
    store = InMemoryKeyValueStore("fresh")
    store.init()
    for i in range(20_000):
        store.put(i, i)
    run(store, nullcontext(), RangeQuery.with_no_bounds().with_page(5), "v1")
    paging._snapshots[store].cost = 3600.0  # a rebuild would be rate-limited for an hour
    store.put(-1, "new")
    lagging = run(store, nullcontext(), RangeQuery.with_no_bounds().with_page(2), "v2")
    assert [kv.key for kv in lagging] == [0, 1]  # an unbounded query may see the snapshot
    bounded = run(store, nullcontext(), RangeQuery.with_no_bounds().with_page(2), "v2",
                  fresh=True)
    assert [kv.key for kv in bounded] == [-1, 0]


def test_deleted_keys_are_skipped_and_values_are_live():
    store = InMemoryKeyValueStore("live")
    store.init()
    for i in range(10):
        store.put(i, "old")
    run(store, nullcontext(), RangeQuery.with_no_bounds().with_page(3), "v")
    store.delete(0)
    store.put(1, "new")
    page = run(store, nullcontext(), RangeQuery.with_no_bounds().with_page(3), "v")
    assert [(kv.key, kv.value) for kv in page] == [(1, "new"), (2, "old"), (3, "old")]


def test_sqlite_int_keys_page_in_numeric_order_and_stay_exact_across_flushes(tmp_path):
    store = PersistentKeyValueStore("ints", max_dirty_entries=10_000)
    store.init(tmp_path / "ints")
    data = {k: f"v{k}" for k in (-1000, -25, -3, 0, 2, 9, 10, 11, 99, 100, 12345)}
    for key, value in data.items():
        store.put(key, value)
    store.flush()

    def page(after=NO_CURSOR, limit=100, lower=None, upper=None, descending=False):
        return paging.sql_page(store, nullcontext(), lower, upper, descending, after, limit)
    assert page() == sorted(data.items())  # numeric, not the text order "i10" < "i9"
    assert page(descending=True, limit=3) == sorted(data.items(), reverse=True)[:3]
    assert page(after=9, limit=3) == [(10, "v10"), (11, "v11"), (99, "v99")]
    assert page(lower=-25, upper=10, after=-3, descending=True) == [
        (-25, "v-25")]
    assert page(lower=0, upper=99, after=2) == [(9, "v9"), (10, "v10"), (11, "v11"),
                                                (99, "v99")]
    builds = paging.stats["builds"]
    # writes after the sorted key list was built: pending, then flushed, then updated
    for key in (5, 10_000, -7):
        store.put(key, "new")
        data[key] = "new"
    assert page() == sorted(data.items())
    store.flush()  # no longer pending: found as rows written since (rowid > seen)
    assert page() == sorted(data.items())
    store.put(9, "updated")
    store.delete(11)
    store.flush()
    data[9] = "updated"
    del data[11]
    assert page() == sorted(data.items())
    assert paging.stats["builds"] == builds  # caught up, never rebuilt
    # the newest row deleted, then a new key may reuse its rowid: noticed, rebuilt
    store.delete(9)
    store.flush()
    store.put(77, "reused")
    store.flush()
    del data[9]
    data[77] = "reused"
    assert page() == sorted(data.items())
    assert paging.stats["builds"] == builds + 1
    walked, after = [], NO_CURSOR
    while True:
        got = page(after=after, limit=4)
        walked += got
        if len(got) < 4:
            break
        after = got[-1][0]
    assert walked == sorted(data.items())
    store.put("text", 1)  # no longer int-only: Python's mixed order, by the generic path
    assert paging.sql_page(store, nullcontext(), None, None, False, NO_CURSOR, 5) is None
    store.close()
