"""The foreign-key join's subscription store survives a restart: in memory or in sqlite
(``default.dsl.store``), it is change-logged and a task restored from the changelogs gives
the results of a run that never stopped; a persistent store reopened on its state directory
answers right-table updates from its file alone."""

from __future__ import annotations

import pytest

from streamnb import Consumed, Serdes, StreamsBuilder, TopologyTestDriver
from streamnb.dsl._fk_nodes import PersistentSubscriptionStore, SubscriptionStore
from tests._restore import changelogs, restore_stores

STORE = "KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000010"
# (topic, key, value): left rows "value|foreign key", right rows by foreign key
RECORDS = [("left", "a", "1|x"), ("left", "b", "2|y"), ("right", "x", "X1"),
           ("left", "c", "3|x"), ("right", "y", "Y1"), ("left", "a", "4|y"),
           ("right", "x", "X2"), ("left", "b", None), ("right", "y", "Y2"),
           ("left", "d", "5|z"), ("right", "z", "Z1"), ("right", "x", None),
           ("left", "c", "6|z"), ("right", "z", "Z2"), ("right", "y", "Y3")]


def _topology(store_type: str, left_join: bool = False):
    builder = StreamsBuilder({"default.dsl.store": store_type})
    strings = Consumed.with_(Serdes.String(), Serdes.String())
    lhs, rhs = builder.table("left", strings), builder.table("right", strings)
    join = lhs.left_join if left_join else lhs.join
    join(rhs, lambda v: v.split("|")[1], lambda a, b: f"{a}+{b}").to_stream().to("out")
    return builder.build()


def _pipe(driver, start, end=None):
    """RECORDS[start:end], record i at timestamp i."""
    topics = {name: driver.create_input_topic(name) for name in ("left", "right")}
    for ts in range(start, len(RECORDS) if end is None else end):
        topic, key, value = RECORDS[ts]
        topics[topic].pipe_input(key, value, ts)


def _outputs(driver):
    return [(r.key, r.value, r.timestamp)
            for r in driver.create_output_topic("out").read_records_to_list()]


def _subscriptions(store):
    return sorted((key, value[0].hash, value[0].instruction, value[1])
                  for key, value in store.all())


def _run(store_type, split, tmp_path, left_join=False):
    config = {"application.id": "fk", "state.dir": str(tmp_path / "one")}
    with TopologyTestDriver(_topology(store_type, left_join), config) as driver:
        _pipe(driver, 0, split)
        out = _outputs(driver)
        logs = changelogs(driver)
        before = _subscriptions(driver.get_all_state_stores()[STORE])
    if split is None:
        return out
    config = {"application.id": "fk", "state.dir": str(tmp_path / "two")}  # a fresh disk
    with TopologyTestDriver(_topology(store_type, left_join), config) as restarted:
        restore_stores(restarted, logs)
        store = restarted.get_all_state_stores()[STORE]
        kind = PersistentSubscriptionStore if store_type == "persistent" else SubscriptionStore
        assert isinstance(store, kind)
        assert _subscriptions(store) == before
        _pipe(restarted, split)
        return out + _outputs(restarted)


@pytest.mark.parametrize("store_type", ["in_memory", "persistent"])
@pytest.mark.parametrize("left_join", [False, True])
@pytest.mark.parametrize("split", [3, 6, 9, 12])
def test_restart_from_the_changelogs_gives_the_uninterrupted_results(store_type, left_join,
                                                                     split, tmp_path):
    expected = _run(store_type, None, tmp_path / "a", left_join)
    assert len(expected) > 5
    assert _run(store_type, split, tmp_path / "b", left_join) == expected


def test_results_do_not_depend_on_the_store_type(tmp_path):
    assert (_run("persistent", None, tmp_path / "p")
            == _run("in_memory", None, tmp_path / "m"))


def test_a_reopened_persistent_store_rebuilds_its_foreign_key_index(tmp_path):
    """Same state.dir, no restore: the sqlite file alone brings the subscriptions back."""
    expected = _run("persistent", None, tmp_path / "ref")
    config = {"application.id": "fk", "state.dir": str(tmp_path / "kept")}
    with TopologyTestDriver(_topology("persistent"), config) as driver:
        _pipe(driver, 0, 9)
        out = _outputs(driver)
        before = _subscriptions(driver.get_all_state_stores()[STORE])
    with TopologyTestDriver(_topology("persistent"), config) as reopened:
        store = reopened.get_all_state_stores()[STORE]
        assert _subscriptions(store) == before
        assert sorted(pk for pk, _ in store.subscribers("z")) == []
        assert sorted(pk for pk, _ in store.subscribers("y")) == ["a"]
        _pipe(reopened, 9)
        assert out + _outputs(reopened) == expected


def test_persistent_index_forgets_deleted_subscriptions(tmp_path):
    store = PersistentSubscriptionStore("s")
    store.init(tmp_path / "s")
    try:
        store.put(("x", "a"), ("w1", 1))
        store.put(("x", "b"), ("w2", 2))
        store._restore(("y", "a"), ("w3", 3))
        store.put(("x", "a"), None)
        assert store.subscribers("x") == [("b", ("w2", 2))]
        assert store.subscribers("y") == [("a", ("w3", 3))]
        assert store.subscribers("nope") == []
        store.flush()
    finally:
        store.close()
    again = PersistentSubscriptionStore("s")
    again.init(tmp_path / "s")
    try:
        assert again.subscribers("x") == [("b", ("w2", 2))]
        with pytest.raises(Exception, match="not hashable"):
            again.subscribers(["unhashable"])
    finally:
        again.close()
