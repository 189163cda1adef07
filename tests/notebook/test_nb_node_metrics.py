"""Per-node process totals in the metrics dict and frame (Kafka's processor-node
``process-total``), drawn on the live topology; the updater's CPU budget."""

from __future__ import annotations

import time

from streamnb import StreamsBuilder
from streamnb.notebook import _updater
from streamnb.notebook.widgets import LiveTopologyView, node_counts
from streamnb.runtime import metrics as rm


class CountingTask:
    """A task as the engine hook leaves it: per-node totals kept per batch."""

    def __init__(self, totals, as_callable=False):
        self._totals = totals
        if as_callable:
            self.node_process_totals = lambda: dict(self._totals)
        else:
            self.node_process_totals = totals


def thread_snapshot(name):
    snap = rm.ThreadMetrics(name).snapshot()
    snap["thread"], snap["state"] = name, "RUNNING"
    return snap


def test_task_node_totals_reads_a_mapping_or_a_callable_and_nothing_else():
    assert rm.task_node_totals(CountingTask({"KSTREAM-SOURCE-0000000000": 7})) == {
        "KSTREAM-SOURCE-0000000000": 7}
    assert rm.task_node_totals(CountingTask({"n": 3}, as_callable=True)) == {"n": 3}
    assert rm.task_node_totals(object()) == {}


def test_node_totals_in_the_dict_and_as_kafka_named_rows():
    nodes = {("t-1", "0_0", "src"): 10, ("t-1", "0_1", "src"): 5, ("t-1", "1_0", "count"): 4}
    out = rm.aggregate([thread_snapshot("t-1")], {}, {}, {}, nodes)
    assert out["node-process-total"] == {"src": 15, "count": 4}
    assert out["processor-node-process-total"] == nodes
    frame = rm.to_frame(out)
    rows = frame[frame["group"] == "stream-processor-node-metrics"]
    assert list(rows["name"]) == ["process-total"] * 3
    assert list(rows["value"]) == [10, 5, 4]
    assert rows.iloc[0]["tags"] == {"thread-id": "t-1", "task-id": "0_0",
                                    "processor-node-id": "src"}
    # Without counting tasks there are no node rows, and the dict says so with empty maps.
    bare = rm.aggregate([thread_snapshot("t-1")], {}, {}, {})
    assert bare["node-process-total"] == {} and "stream-processor-node-metrics" not in set(
        rm.to_frame(bare)["group"])


class Streams:
    def __init__(self, topology):
        self.topology = topology
        self.config = {"application.id": "node-app"}
        self.counts = {}

    def state(self):
        return "RUNNING"

    def metrics(self):
        return {"process-total": sum(self.counts.values()),
                "node-process-total": dict(self.counts)}


def test_live_topology_draws_each_nodes_count_as_it_changes():
    builder = StreamsBuilder()
    builder.stream("in").filter(lambda k, v: v).to("out")
    streams = Streams(builder.build())
    source, flt = "KSTREAM-SOURCE-0000000000", "KSTREAM-FILTER-0000000001"
    streams.counts = {source: 1200, flt: 800}
    view = LiveTopologyView(_updater.Target(streams))
    updater = _updater.updater_for(streams)
    try:
        snap = updater.refresh_now()
        assert node_counts(snap.metrics) == {source: 1200, flt: 800}
        view.refresh(snap)
        assert '<tspan class="count"' in view.html.value and "1,200" in view.html.value
        streams.counts = {source: 2500, flt: 900}
        view.refresh(updater.refresh_now())
        assert "2,500" in view.html.value and "1,200" not in view.html.value
    finally:
        _updater.stop_all()


def test_updater_sleeps_to_stay_within_its_cpu_budget():
    builder = StreamsBuilder()
    builder.stream("in").to("out")
    updater = _updater.Updater(_updater.Target(Streams(builder.build())))
    assert updater._pause(cpu=0.0, elapsed=0.0) == updater.interval  # cheap: full rate
    assert abs(updater._pause(cpu=0.03, elapsed=0.1) - (0.03 / _updater.CPU_BUDGET - 0.1)) \
        < 1e-9
    assert updater._pause(cpu=10.0, elapsed=0.0) == 5.0  # never slower than every 5 s
    assert abs(updater.cpu_used - 10.03) < 1e-9


def test_a_costly_view_is_refreshed_less_often():
    builder = StreamsBuilder()
    builder.stream("in").to("out")
    updater = _updater.Updater(_updater.Target(Streams(builder.build())))

    class Costly:
        min_interval = 0.0
        calls = 0

        def refresh(self, snap):
            Costly.calls += 1
            end = time.thread_time() + 0.02  # 20 ms of CPU
            while time.thread_time() < end:
                pass

    updater._views.append((Costly(), [0.0]))
    updater.refresh_now(force=False)
    updater.refresh_now(force=False)  # due again only after >= 20 x 20 ms
    assert Costly.calls == 1
