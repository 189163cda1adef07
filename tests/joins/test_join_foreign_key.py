"""Foreign-key table joins (results as Kafka's subscription protocol produces them)."""

from __future__ import annotations

import pytest

from streamnb import Materialized, StreamsBuilder, TopologyTestDriver


def _driver(left_join=False, materialized=None):
    builder = StreamsBuilder()
    left, right = builder.table("lhs"), builder.table("rhs")
    method = left.left_join if left_join else left.join
    method(right, lambda v: v.split("|")[1], lambda lv, rv: f"({lv},{rv})",
           materialized=materialized).to_stream().to("out")
    driver = TopologyTestDriver(builder.build())
    return (driver, driver.create_input_topic("lhs"), driver.create_input_topic("rhs"),
            driver.create_output_topic("out"))


def test_fk_inner_join_matches_kafka_example():
    # KStreamImplTest FK join: right rows first (no output), then the left row joins,
    # deleting it produces a tombstone.
    driver, lhs, rhs, out = _driver()
    with driver:
        for i in (1, 2, 3):
            rhs.pipe_input(f"rhs{i}", f"rhsValue{i}", 1)
        assert out.read_key_values_to_list() == []
        lhs.pipe_input("lhs1", "lhsValue1|rhs1", 2)
        assert out.read_key_values_to_list() == [("lhs1", "(lhsValue1|rhs1,rhsValue1)")]
        lhs.pipe_input("lhs1", None, 3)
        assert out.read_key_values_to_list() == [("lhs1", None)]


def test_fk_join_follows_right_updates_and_foreign_key_changes():
    driver, lhs, rhs, out = _driver()
    with driver:
        lhs.pipe_input("a", "x|r1", 1)          # no right row yet: inner join is silent
        assert out.read_key_values_to_list() == []
        rhs.pipe_input("r1", "one", 5)
        assert out.read_records_to_list()[0].value == "(x|r1,one)"
        lhs.pipe_input("a", "x|r2", 6)          # FK moves to a missing row: tombstone
        assert out.read_key_values_to_list() == [("a", None)]
        rhs.pipe_input("r1", "uno", 7)          # old FK no longer subscribed
        assert out.read_key_values_to_list() == []
        rhs.pipe_input("r2", "two", 8)
        assert out.read_key_values_to_list() == [("a", "(x|r2,two)")]
        rhs.pipe_input("r2", None, 9)           # right delete: tombstone for inner join
        assert out.read_key_values_to_list() == [("a", None)]


def test_fk_left_join_keeps_rows_without_partner():
    driver, lhs, rhs, out = _driver(left_join=True, materialized=Materialized.as_("fk-out"))
    with driver:
        lhs.pipe_input("a", "x|r1", 1)
        assert out.read_key_values_to_list() == [("a", "(x|r1,None)")]
        rhs.pipe_input("r1", "one", 2)
        assert out.read_key_values_to_list() == [("a", "(x|r1,one)")]
        assert driver.get_key_value_store("fk-out").get("a") == "(x|r1,one)"
        rhs.pipe_input("r1", None, 3)
        assert out.read_key_values_to_list() == [("a", "(x|r1,None)")]


def test_fk_join_result_can_be_joined_again_through_its_getter():
    builder = StreamsBuilder()
    left, right = builder.table("lhs"), builder.table("rhs")
    joined = left.join(right, lambda v: v, lambda lv, rv: f"{lv}->{rv}")
    builder.stream("s").join(joined, lambda s, j: f"{s}:{j}").to("out")
    with TopologyTestDriver(builder.build()) as driver:
        driver.create_input_topic("rhs").pipe_input("r", "R", 1)
        driver.create_input_topic("lhs").pipe_input("k", "r", 2)
        driver.create_input_topic("s").pipe_input("k", "S", 3)
        assert driver.create_output_topic("out").read_values_to_list() == ["S:r->R"]


def test_fk_join_validates_functions():
    builder = StreamsBuilder()
    left, right = builder.table("lhs"), builder.table("rhs")
    with pytest.raises(TypeError, match="extractor"):
        left.join(right, lambda k, v: v, lambda a, b: a)
