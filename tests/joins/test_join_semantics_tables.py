"""The "join semantics" tables of Kafka's DSL guide (docs/streams/developer-guide/dsl-api.html),
reproduced row by row: one key, records in timestamp order, what the joiner is called with."""

from __future__ import annotations

import pytest

from streamnb import StreamsBuilder, TopologyTestDriver
from streamnb.dsl.join_windows import JoinWindows

SEC = 1000


def _fmt(left, right):
    show = lambda v: "null" if v is None else v  # noqa: E731
    return f"[{show(left)}, {show(right)}]"


def _run(build, rows):
    """rows: (ts seconds, side 'L'/'R', value) -> list of (ts, outputs) read after each row."""
    builder = StreamsBuilder()
    build(builder)
    with TopologyTestDriver(builder.build()) as driver:
        inputs = {"L": driver.create_input_topic("left"), "R": driver.create_input_topic("right")}
        out = driver.create_output_topic("out")
        seen = []
        for ts, side, value in rows:
            inputs[side].pipe_input("k", value, ts * SEC)
            seen.append((ts, [r.value for r in out.read_records_to_list()]))
        return seen


# -- stream-stream: window 15 s, grace 5 s ------------------------------------------------------
STREAM_STREAM_ROWS = [
    (1, "L", None), (2, "R", None), (3, "L", "A"), (4, "R", "a"), (5, "L", "B"), (6, "R", "b"),
    (7, "L", None), (8, "R", None), (9, "L", "C"), (10, "R", "c"), (11, "R", None),
    (12, "L", None), (13, "R", None), (14, "R", "d"), (15, "L", "D"),
]
STREAM_STREAM_EXPECTED = {
    4: ["[A, a]"], 5: ["[B, a]"], 6: ["[A, b]", "[B, b]"], 9: ["[C, a]", "[C, b]"],
    10: ["[A, c]", "[B, c]", "[C, c]"], 14: ["[A, d]", "[B, d]", "[C, d]"],
    15: ["[D, a]", "[D, b]", "[D, c]", "[D, d]"],
}
# The guide's tail (E@40, F@60, f@80, G@100) shows each null-joined result at the first
# record that reaches "window end + grace"; Kafka's code emits once stream time is strictly
# past it (isOuterJoinWindowOpen uses >=), so the tail here is 1-2 s later than the guide's.
TAIL = [(40, "L", "E"), (61, "L", "F"), (82, "R", "f"), (103, "L", "G")]
TAIL_EXPECTED = {
    "join": {},
    "left_join": {61: ["[E, null]"], 82: ["[F, null]"]},
    "outer_join": {61: ["[E, null]"], 82: ["[F, null]"], 103: ["[null, f]"]},
}


@pytest.mark.parametrize("kind", ["join", "left_join", "outer_join"])
def test_stream_stream_join_semantics_table(kind):
    def build(builder):
        left, right = builder.stream("left"), builder.stream("right")
        windows = JoinWindows.of_time_difference_and_grace(15 * SEC, 5 * SEC)
        getattr(left, kind)(right, _fmt, windows).to("out")

    seen = _run(build, STREAM_STREAM_ROWS + TAIL)
    expected = {**STREAM_STREAM_EXPECTED, **TAIL_EXPECTED[kind]}
    for ts, values in seen:
        assert values == expected.get(ts, []), f"{kind} at {ts}s"


def test_stream_stream_output_timestamp_is_max_of_both():
    builder = StreamsBuilder()
    left, right = builder.stream("left"), builder.stream("right")
    left.join(right, _fmt, JoinWindows.of_time_difference_with_no_grace(100)).to("out")
    with TopologyTestDriver(builder.build()) as driver:
        lt, rt = driver.create_input_topic("left"), driver.create_input_topic("right")
        out = driver.create_output_topic("out")
        lt.pipe_input(1, "A", 50)
        rt.pipe_input(1, "a", 10)    # older partner: result at 50
        rt.pipe_input(1, "b", 140)   # within 100 after: result at 140
        rt.pipe_input(1, "c", 151)   # 101 after A: no join
        assert [(r.value, r.timestamp) for r in out.read_records_to_list()] == [
            ("[A, a]", 50), ("[A, b]", 140)]


def test_left_join_null_key_is_emitted_at_once_inner_drops_it():
    builder = StreamsBuilder()
    left, right = builder.stream("left"), builder.stream("right")
    windows = JoinWindows.of_time_difference_with_no_grace(100)
    left.left_join(right, _fmt, windows).to("out")
    left.join(right, _fmt, windows).to("inner")
    with TopologyTestDriver(builder.build()) as driver:
        driver.create_input_topic("left").pipe_input(None, "A", 5)
        assert driver.create_output_topic("out").read_key_values_to_list() == [
            (None, "[A, null]")]
        assert driver.create_output_topic("inner").read_values_to_list() == []


def test_deprecated_of_windows_emit_spurious_left_results_eagerly():
    builder = StreamsBuilder()
    left, right = builder.stream("left"), builder.stream("right")
    left.left_join(right, _fmt, JoinWindows.of(100)).to("out")
    with TopologyTestDriver(builder.build()) as driver:
        driver.create_input_topic("left").pipe_input(1, "A", 5)
        driver.create_input_topic("right").pipe_input(1, "a", 6)
        assert driver.create_output_topic("out").read_values_to_list() == ["[A, null]", "[A, a]"]


# -- stream-table -------------------------------------------------------------------------------
STREAM_TABLE_ROWS = [
    (1, "L", None), (2, "R", None), (3, "L", "A"), (4, "R", "a"), (5, "L", "B"), (6, "R", "b"),
    (7, "L", None), (8, "R", None), (9, "L", "C"), (10, "R", "c"), (11, "R", None),
    (12, "L", None), (13, "R", None), (14, "R", "d"), (15, "L", "D"),
]


@pytest.mark.parametrize("kind,expected", [
    ("join", {5: ["[B, a]"], 15: ["[D, d]"]}),
    ("left_join", {3: ["[A, null]"], 5: ["[B, a]"], 9: ["[C, null]"], 15: ["[D, d]"]}),
])
def test_stream_table_join_semantics_table(kind, expected):
    def build(builder):
        stream, table = builder.stream("left"), builder.table("right")
        getattr(stream, kind)(table, _fmt).to("out")

    for ts, values in _run(build, STREAM_TABLE_ROWS):
        assert values == expected.get(ts, []), f"{kind} at {ts}s"


# -- table-table --------------------------------------------------------------------------------
TABLE_TABLE_EXPECTED = {
    "join": {4: ["[A, a]"], 5: ["[B, a]"], 6: ["[B, b]"], 7: [None], 10: ["[C, c]"],
             11: [None], 15: ["[D, d]"]},
    "left_join": {3: ["[A, null]"], 4: ["[A, a]"], 5: ["[B, a]"], 6: ["[B, b]"], 7: [None],
                  9: ["[C, null]"], 10: ["[C, c]"], 11: ["[C, null]"], 12: [None],
                  15: ["[D, d]"]},
    "outer_join": {3: ["[A, null]"], 4: ["[A, a]"], 5: ["[B, a]"], 6: ["[B, b]"],
                   7: ["[null, b]"], 8: [None], 9: ["[C, null]"], 10: ["[C, c]"],
                   11: ["[C, null]"], 12: [None], 14: ["[null, d]"], 15: ["[D, d]"]},
}


@pytest.mark.parametrize("kind", ["join", "left_join", "outer_join"])
def test_table_table_join_semantics_table(kind):
    def build(builder):
        left, right = builder.table("left"), builder.table("right")
        getattr(left, kind)(right, _fmt).to_stream().to("out")

    for ts, values in _run(build, STREAM_TABLE_ROWS):
        assert values == TABLE_TABLE_EXPECTED[kind].get(ts, []), f"{kind} at {ts}s"


def test_table_table_join_timestamp_is_max_of_both_sides():
    builder = StreamsBuilder()
    builder.table("left").join(builder.table("right"), _fmt).to_stream().to("out")
    with TopologyTestDriver(builder.build()) as driver:
        driver.create_input_topic("right").pipe_input("k", "a", 100)
        driver.create_input_topic("left").pipe_input("k", "A", 40)
        out = driver.create_output_topic("out").read_records_to_list()
        assert [(r.value, r.timestamp) for r in out] == [("[A, a]", 100)]


def test_two_drivers_of_one_topology_keep_separate_join_state():
    builder = StreamsBuilder()
    left, right = builder.stream("left"), builder.stream("right")
    left.outer_join(right, _fmt, JoinWindows.of_time_difference_with_no_grace(10)).to("out")
    topology = builder.build()
    first = TopologyTestDriver(topology)
    first.create_input_topic("left").pipe_input("k", "A", 1000)
    with TopologyTestDriver(topology) as second:
        second.create_input_topic("left").pipe_input("k", "B", 5)
        second.create_input_topic("right").pipe_input("k", "b", 6)
        assert second.create_output_topic("out").read_values_to_list() == ["[B, b]"]
    first.close()
