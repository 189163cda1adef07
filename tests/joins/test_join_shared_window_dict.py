"""The two built-in window stores of a stream-stream join share one dict (one lookup per
record): each side still reads, sweeps, logs and restores as a store of its own, the
layout only applies when both sides are built-in in-memory stores, and every join kind
gives the results of the unshared (persistent, user-supplied) stores."""

from __future__ import annotations

import random

import pytest

from streamnb import StreamsBuilder, TopologyTestDriver
from streamnb.dsl.join_options import StreamJoined
from streamnb.dsl.join_windows import JoinWindows
from streamnb.state.builders import Stores
from streamnb.state.join_window import JoinWindowStore
from tests._restore import changelogs, restore_stores

CONFIG = {"application.id": "app", "default.key.serde": "string",
          "default.value.serde": "string"}
THIS, OTHER = "KSTREAM-JOINTHIS-0000000004-store", "KSTREAM-JOINOTHER-0000000005-store"
WINDOWS = JoinWindows.of_time_difference_and_grace(100, 20)


def _topology(kind="join", store=None, suppliers=None, self_join=False):
    builder = StreamsBuilder({"default.dsl.store": store} if store else None)
    left = builder.stream("left")
    right = left if self_join else builder.stream("right")
    joined = StreamJoined()
    if suppliers is not None:
        joined = StreamJoined.with_store_suppliers(*suppliers)
    getattr(left, kind)(right, lambda a, b: f"{a}|{b}", WINDOWS, joined).to("out")
    return builder.build()


def _records(seed=3, count=300):
    """Keys a-e, both sides, time mostly rising with some out-of-order records."""
    rng = random.Random(seed)
    out = []
    for index in range(count):
        ts = index * 7 + rng.randrange(-60, 60)
        out.append((rng.choice("lr"), rng.choice("abcde"), f"v{index}", max(ts, 0)))
    return out


def _pipe(driver, records, self_join=False):
    left = driver.create_input_topic("left")
    right = left if self_join else driver.create_input_topic("right")
    for side, key, value, ts in records:
        (left if side == "l" else right).pipe_input(key, value, ts)
    return [(r.key, r.value, r.timestamp)
            for r in driver.create_output_topic("out").read_records_to_list()]


def _run(topology, records, tmp_path=None, self_join=False):
    config = dict(CONFIG)
    if tmp_path is not None:
        config["state.dir"] = str(tmp_path)
    with TopologyTestDriver(topology, config) as driver:
        return _pipe(driver, records, self_join)


def test_the_two_builtin_stores_share_one_dict_and_read_as_their_own():
    with TopologyTestDriver(_topology(), CONFIG) as driver:
        left, right = driver.create_input_topic("left"), driver.create_input_topic("right")
        left.pipe_input("k", "L1", 10)
        right.pipe_input("k", "R1", 20)
        right.pipe_input("j", "R2", 30)
        this, other = driver._task.stores[THIS], driver._task.stores[OTHER]
        assert this.pairs is other.pairs and (this.side, other.side) == (0, 1)
        assert list(this.all()) == [("k", 10, "L1")]
        assert list(other.all()) == [("k", 20, "R1"), ("j", 30, "R2")]
        assert list(this.fetch("k", 0, 100)) == [(10, "L1")]
        assert list(other.fetch("k", 0, 100)) == [(20, "R1")]
        assert list(this.fetch("j", 0, 100)) == []
        assert (this.approximate_num_entries(), other.approximate_num_entries()) == (1, 2)
        view = driver.get_window_store(OTHER)
        assert list(view.fetch("k", 0, 100)) == [(20, "R1")]


@pytest.mark.parametrize("kind", ["join", "left_join", "outer_join"])
def test_results_equal_the_unshared_persistent_stores(kind, tmp_path):
    records = _records()
    shared = _run(_topology(kind), records)
    persistent = _run(_topology(kind, store="rocksdb"), records, tmp_path)
    assert shared == persistent
    assert any("|" in value and "None" not in value for _k, value, _t in shared)


@pytest.mark.parametrize("kind", ["join", "outer_join"])
def test_user_supplied_stores_give_the_same_results(kind, tmp_path):
    records = _records(seed=5)
    size, retention = 200, 220
    suppliers = (Stores.in_memory_window_store("mine-this", retention, size, True),
                 Stores.persistent_window_store("mine-other", retention, size, True))
    with TopologyTestDriver(_topology(kind, suppliers=suppliers),
                            {**CONFIG, "state.dir": str(tmp_path)}) as driver:
        stores = driver._task.stores
        assert not isinstance(stores["mine-this"], JoinWindowStore)
        supplied = _pipe(driver, records)
    assert supplied == _run(_topology(kind), records)


def test_self_join_shares_and_matches_the_persistent_stores(tmp_path):
    records = [("l", key, value, ts) for _side, key, value, ts in _records(seed=9, count=120)]
    shared = _run(_topology(self_join=True), records, self_join=True)
    assert shared == _run(_topology(store="rocksdb", self_join=True), records, tmp_path,
                          self_join=True)
    # Each record reaches the other side's join after its own side stored it: it joins
    # itself exactly once (Kafka's unoptimized self-join), plus its window partners.
    values = [value for _k, value, _t in shared]
    assert all(values.count(f"{v}|{v}") == 1 for _s, _k, v, _t in records)
    assert len(values) > len(records)


def test_both_sides_restore_from_their_changelogs_into_the_shared_dict():
    records = _records(seed=11, count=200)
    first, second = records[:150], records[150:]
    topology = _topology()
    with TopologyTestDriver(topology, CONFIG) as driver:
        _pipe(driver, first)
        logs = changelogs(driver)
        before = {name: sorted(driver._task.stores[name].all()) for name in (THIS, OTHER)}
        assert before[THIS] and before[OTHER]
        expected = _pipe(driver, second)
    with TopologyTestDriver(_topology(), CONFIG) as driver:
        restore_stores(driver, logs)
        this, other = driver._task.stores[THIS], driver._task.stores[OTHER]
        assert this.pairs is other.pairs
        assert {name: sorted(driver._task.stores[name].all()) for name in (THIS, OTHER)} == before
        after = _pipe(driver, second)
    assert after == expected and expected


def test_share_with_moves_records_restored_before_the_stores_were_paired():
    this, other = JoinWindowStore("a", 100, 50), JoinWindowStore("b", 100, 50)
    this.put("k", "x", 10)
    other.put("k", "y", 20)
    other.put("j", "z", 30)
    assert this.share_with(other) and other.share_with(this)
    assert this.pairs is other.pairs and other.side == 1
    assert list(this.all()) == [("k", 10, "x")]
    assert list(other.all()) == [("k", 20, "y"), ("j", 30, "z")]
    assert not JoinWindowStore("c", 100, 50).share_with(this)  # already paired


def test_one_sweep_covers_both_sides_and_a_key_goes_when_both_are_empty():
    this, other = JoinWindowStore("a", 1000, 500), JoinWindowStore("b", 1000, 500)
    this.share_with(other)
    this.put("both", "x", 0)
    other.put("both", "y", 0)
    other.put("late", "y", 50_000)  # the right side's time moves on
    this.put("left-only", "x", 30_000)
    this.put("now", "x", 61_000)  # left sweeps at 61 s: both sides, each by its own time
    assert "both" not in this.pairs and "left-only" not in this.pairs
    assert list(other.all()) == [("late", 50_000, "y")]
    assert other.next_sweep == 50_000 + other.segment_interval_ms  # swept with the left
    sizes = []
    for ts in range(61_000, 400_000, 10):
        (this if ts % 20 else other).put(ts % 997, ts, ts)
        if ts % 50_000 == 0:
            sizes.append(len(this.pairs))
    assert max(sizes) <= (60_000 + 1000) // 10 + 100
