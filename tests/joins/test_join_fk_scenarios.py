"""Scenarios of Kafka's KTableKTableForeignKeyJoinIntegrationTest, inner and left join, with
and without a materialized result: the outputs Kafka's subscription protocol produces."""

from __future__ import annotations

import pytest

from streamnb import Consumed, Materialized, Serdes, StreamsBuilder, TopologyTestDriver

CASES = [(left, mat) for left in (False, True) for mat in (False, True)]


def _joiner(v1, v2):
    return f"({v1},{'null' if v2 is None else v2})"


class _Fixture:
    def __init__(self, left_join, materialized, extractor=None):
        builder = StreamsBuilder()
        strings = Consumed.with_(Serdes.String(), Serdes.String())
        lhs = builder.table("left_table", strings)
        rhs = builder.table("right_table", strings)
        method = lhs.left_join if left_join else lhs.join
        method(rhs, extractor or (lambda v: v.split("|")[1]), _joiner,
               materialized=Materialized.as_("store") if materialized else None) \
            .to_stream().to("output")
        self.driver = TopologyTestDriver(builder.build())
        self.left = self.driver.create_input_topic("left_table")
        self.right = self.driver.create_input_topic("right_table")
        self.output = self.driver.create_output_topic("output")
        self.materialized = materialized

    def check(self, expected_output, expected_store):
        assert self.output.read_key_values_to_map() == expected_output
        if self.materialized:
            store = self.driver.get_key_value_store("store")
            assert {kv.key: kv.value for kv in store.all()} == expected_store


@pytest.mark.parametrize(("left_join", "materialized"), CASES)
def test_tombstone_when_deleting_non_joining_records(left_join, materialized):
    f = _Fixture(left_join, materialized)
    with f.driver:
        f.left.pipe_input("lhs1", "lhsValue1|rhs1", 1000)
        half = {"lhs1": "(lhsValue1|rhs1,null)"} if left_join else {}
        f.check(half, half)
        f.left.pipe_input("lhs1", None, 1001)   # unnecessary for inner, needed for left
        f.check({"lhs1": None}, {})
        f.left.pipe_input("lhs1", None, 1002)   # deleting a missing row: nothing
        f.check({}, {})


@pytest.mark.parametrize(("left_join", "materialized"), CASES)
def test_no_tombstone_when_deleting_a_row_that_never_existed(left_join, materialized):
    f = _Fixture(left_join, materialized)
    with f.driver:
        f.left.pipe_input("lhs1", None, 1000)
        f.check({}, {})


@pytest.mark.parametrize(("left_join", "materialized"), CASES)
def test_non_matching_foreign_keys_then_a_matching_one(left_join, materialized):
    f = _Fixture(left_join, materialized)

    def moved(fk):
        row = {"lhs1": f"(lhsValue1|{fk},null)"} if left_join else {}
        f.check({"lhs1": row["lhs1"] if left_join else None}, row)

    with f.driver:
        f.left.pipe_input("lhs1", "lhsValue1|rhs1", 1000)
        half = {"lhs1": "(lhsValue1|rhs1,null)"} if left_join else {}
        f.check(half, half)
        f.left.pipe_input("lhs1", "lhsValue1|rhs2", 1001)
        moved("rhs2")
        f.left.pipe_input("lhs1", "lhsValue1|rhs3", 1002)
        moved("rhs3")
        f.right.pipe_input("rhs1", "rhsValue1", 1003)   # no longer referenced: no change
        f.check({}, {"lhs1": "(lhsValue1|rhs3,null)"} if left_join else {})
        f.left.pipe_input("lhs1", "lhsValue1|rhs1", 1004)
        joined = {"lhs1": "(lhsValue1|rhs1,rhsValue1)"}
        f.check(joined, joined)
        f.left.pipe_input("lhs1", "lhsValue1|rhs2", 1005)
        moved("rhs2")


@pytest.mark.parametrize(("left_join", "materialized"), CASES)
def test_old_foreign_key_is_unsubscribed_when_the_left_row_changes(left_join, materialized):
    f = _Fixture(left_join, materialized)
    with f.driver:
        f.right.pipe_input("rhs1", "rhsValue1", 1000)
        f.right.pipe_input("rhs2", "rhsValue2", 1001)
        f.check({}, {})
        f.left.pipe_input("lhs1", "lhsValue1|rhs1", 1002)
        first = {"lhs1": "(lhsValue1|rhs1,rhsValue1)"}
        f.check(first, first)
        f.left.pipe_input("lhs1", "lhsValue1|rhs2", 1003)
        second = {"lhs1": "(lhsValue1|rhs2,rhsValue2)"}
        f.check(second, second)
        f.right.pipe_input("rhs1", "rhsValue1Delta", 1004)
        f.check({}, second)


@pytest.mark.parametrize("materialized", [False, True])
def test_left_join_emits_for_a_null_foreign_key(materialized):
    f = _Fixture(True, materialized, extractor=lambda v: None)
    with f.driver:
        f.left.pipe_input("lhs1", "lhsValue1|rhs1", 1000)
        row = {"lhs1": "(lhsValue1|rhs1,null)"}
        f.check(row, row)


@pytest.mark.parametrize("materialized", [False, True])
def test_left_join_unsubscribes_when_the_new_foreign_key_is_null(materialized):
    f = _Fixture(True, materialized, extractor=lambda v: (
        None if v.split("|")[1] == "returnNull" else v.split("|")[1]))
    with f.driver:
        subscriptions = next(
            store for name, store in f.driver.get_all_state_stores().items()
            if "SUBSCRIPTION-STATE-STORE" in name)
        f.left.pipe_input("lhs1", "lhsValue1|rhs1", 1000)
        row = {"lhs1": "(lhsValue1|rhs1,null)"}
        f.check(row, row)
        assert subscriptions.get(("rhs1", "lhs1")) is not None
        f.left.pipe_input("lhs1", "lhsValue1|returnNull", 1000)
        row = {"lhs1": "(lhsValue1|returnNull,null)"}
        f.check(row, row)
        assert subscriptions.get(("rhs1", "lhs1")) is None
