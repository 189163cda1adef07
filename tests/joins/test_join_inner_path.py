"""The inner stream-stream join's generated per-record function: joiner argument order on
both sides, expired heads of a key dropped on read, results sent past the pass-through
merge only when no node metrics are recorded, and the two-list changelog buffer."""

from __future__ import annotations

import pytest

from streamnb import StreamsBuilder, TopologyTestDriver
from streamnb.dsl.join_windows import JoinWindows
from streamnb.engine.task import Task
from streamnb.state.join_window import JoinWindowStore
from streamnb.topology.topology import Subtopology
from tests._collectors import ListCollector

CONFIG = {"application.id": "app", "default.key.serde": "string",
          "default.value.serde": "string"}


def _topology(joiner, windows=None):
    builder = StreamsBuilder()
    left, right = builder.stream("left"), builder.stream("right")
    left.join(right, joiner, windows or JoinWindows.of_time_difference_with_no_grace(100)
              ).to("out")
    return builder.build()


def _results(driver):
    return [(r.key, r.value, r.timestamp)
            for r in driver.create_output_topic("out").read_records_to_list()]


@pytest.mark.parametrize("joiner", [lambda a, b: f"{a}|{b}", lambda k, a, b: f"{a}|{b}"],
                         ids=["value-joiner", "key-joiner"])
def test_results_keep_left_right_order_from_either_side(joiner):
    with TopologyTestDriver(_topology(joiner), CONFIG) as driver:
        left, right = driver.create_input_topic("left"), driver.create_input_topic("right")
        left.pipe_input("k", "L1", 10)
        right.pipe_input("k", "R1", 20)  # right side finds L1: (left, right) order
        left.pipe_input("k", "L2", 30)  # left side finds R1
        right.pipe_input("k", "R0", 5)  # out of order: joins L1 and L2, result at their time
        assert _results(driver) == [("k", "L1|R1", 20), ("k", "L2|R1", 30),
                                    ("k", "L1|R0", 10), ("k", "L2|R0", 30)]


def _task(config=None, windows=None) -> tuple[Task, ListCollector]:
    topology = _topology(lambda a, b: a + b, windows)
    groups = topology.subtopologies()
    merged = Subtopology(0, [n for g in groups for n in g.nodes], [], [],
                         [s for g in groups for s in g.stores])
    collector = ListCollector()
    return Task("0_0", topology, merged, collector, "app", config), collector


def test_expired_records_of_a_key_are_dropped_when_read_and_never_joined():
    task, collector = _task(windows=JoinWindows.of_time_difference_with_no_grace(10))
    for ts in (0, 1, 2, 3, 40):  # retention 20 ms
        task.process("left", "k", f"L{ts}", ts)
    store = task.stores["KSTREAM-JOINTHIS-0000000004-store"]
    assert [ts for ts, _ in store.data["k"]] == [0, 1, 2, 3, 40]  # not swept yet
    task.process("right", "k", "R", 45)  # stream time 45: 0..3 are past the retention
    assert [ts for ts, _ in store.data["k"]] == [40]
    task.process("right", "j", "R", 46)
    task.process("left", "j", "L", 1)  # expired on arrival: neither joined nor kept
    task.process("left", "x", "L", 30)
    task.process("left", "x", "L", 31)
    task.process("left", "z", "L", 55)  # the left store's time: x's records expire
    task.process("right", "x", "R", 60)  # all of x's records expired: its list is emptied
    assert store.data["x"] == []
    assert [(key, value, ts) for _t, key, value, ts in collector.out] == [("k", "L40R", 45)]


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_merge_is_counted_when_node_metrics_are_recorded(level):
    task, collector = _task({"metrics.recording.level": level})
    for ts in range(3):
        task.process("left", "k", "a", ts)
        task.process("right", "k", "b", ts)
    assert len(collector.out) == 9  # 1 + 2 + 2 + 3 + 3 + ... pairs within the window
    totals = task.node_process_totals()
    if level == "DEBUG":
        assert totals["KSTREAM-MERGE-0000000006"] == 9
        assert totals["KSTREAM-SINK-0000000007"] == 9
    else:
        assert totals == {} or not any(totals.values())


def test_changelog_buffer_is_drained_in_write_order_with_numbers():
    task, collector = _task()
    task.process("left", "k", "a", 5)
    task.process("right", "k", "b", 7)
    task.process("left", "j", "c", 6)
    assert collector.changelog == []
    task.commit()
    assert collector.changelog == [
        ("app-KSTREAM-JOINTHIS-0000000004-store-changelog", ("k", 5, 1), "a", 5),
        ("app-KSTREAM-JOINTHIS-0000000004-store-changelog", ("j", 6, 2), "c", 6),
        ("app-KSTREAM-JOINOTHER-0000000005-store-changelog", ("k", 7, 1), "b", 7),
    ]
    store = task.stores["KSTREAM-JOINTHIS-0000000004-store"]
    assert isinstance(store, JoinWindowStore)
    assert store.log_buffer == [] and store.log_entries == []
