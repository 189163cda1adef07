"""A left/outer join restarted with records still waiting in its outer store (restored
from the changelog) emits their null results as soon as stream time passes their window,
as Kafka does: its time tracker starts "unknown" (Long.MAX_VALUE, which overflows), so the
first record after a restart scans the store. Before, streamnb waited until a new record
was parked, so a restored record could wait indefinitely."""

from __future__ import annotations

import pytest

from streamnb import StreamsBuilder, TopologyTestDriver
from streamnb.dsl.join_windows import JoinWindows
from tests._restore import changelogs, restore_stores

CONFIG = {"application.id": "app", "default.key.serde": "string",
          "default.value.serde": "string"}
WINDOWS = JoinWindows.of_time_difference_and_grace(100, 20)


def _driver(kind: str) -> TopologyTestDriver:
    builder = StreamsBuilder()
    left, right = builder.stream("left"), builder.stream("right")
    getattr(left, kind)(right, lambda a, b: f"{a}+{b}", WINDOWS).to("out")
    return TopologyTestDriver(builder.build(), CONFIG)


def _pipe(driver: TopologyTestDriver, records: list[tuple[str, str, str, int]]) -> list:
    inputs = {t: driver.create_input_topic(t) for t in ("left", "right")}
    for topic, key, value, ts in records:
        inputs[topic].pipe_input(key, value, ts)
    return [(r.key, r.value, r.timestamp)
            for r in driver.create_output_topic("out").read_records_to_list()]


@pytest.mark.parametrize("kind, side, expected", [
    ("left_join", "left", ("b", "y+None", 10)),
    ("outer_join", "left", ("b", "y+None", 10)),
    ("outer_join", "right", ("b", "None+y", 10)),
])
def test_a_restored_waiting_record_is_emitted_by_the_first_record_past_its_window(
        kind: str, side: str, expected: tuple) -> None:
    with _driver(kind) as first:
        assert _pipe(first, [(side, "b", "y", 10)]) == []  # waits: no partner yet
        logs = changelogs(first)
    with _driver(kind) as second:
        restore_stores(second, logs)
        # One record, on a key that matches nothing, moves stream time past b's window
        # (10 + 100 + 20 < 200); it is not itself due, so nothing else comes out.
        assert _pipe(second, [("left", "c", "z", 200)]) == [expected]


def test_a_fresh_join_scans_its_empty_store_once_then_uses_the_oldest_time() -> None:
    with _driver("left_join") as driver:
        tracker = next(node.tracker for node in driver._task.nodes.values()
                       if getattr(node, "tracker", None) is not None)
        assert tracker.min_time == float("-inf")
        _pipe(driver, [("left", "a", "x", 5)])
        assert tracker.min_time == 5  # the scan found nothing, then "a" was parked at 5
        assert _pipe(driver, [("left", "a2", "x", 500)]) == [("a", "x+None", 5)]
        assert tracker.min_time <= 500  # a lower bound of what waits, as Kafka's
