"""Fused time-windowed aggregations must give exactly what the unfused nodes give: output
records (keys, values, timestamps), dropped-record counts and store contents, through the
test driver (one record at a time) and through the batch loop the runtime uses."""

from __future__ import annotations

import pytest

from streamnb import Materialized, StreamsBuilder, TimeWindows, TopologyTestDriver
from streamnb.dsl.windows import EmitStrategy
from streamnb.engine.task import Task
from streamnb.state.builders import Stores
from streamnb.topology.topology import Subtopology

# (key, value, timestamp): in order, out of order within grace, late beyond grace (dropped),
# a null key (dropped), records that open new windows and expire old ones.
RECORDS = [
    ("a", "1", 0), ("b", "2", 10), ("a", "3", 40), ("a", "4", 25), ("b", "5", 120),
    ("a", "6", 30), ("a", "7", 5), (None, "8", 130), ("c", "9", 260), ("a", "10", 95),
    ("b", "11", 255), ("a", "12", 400), ("a", "13", 150), ("c", None, 401),
    ("b", "14", 1_000), ("a", "15", 990), ("a", "16", 1_500),
]


def _tumbling(b, mat=None):
    (b.stream("in").group_by_key().windowed_by(TimeWindows.of_size_and_grace(100, 50))
     .count(materialized=mat or "store").to_stream().to("out"))


def _hopping(b):
    (b.stream("in").group_by_key()
     .windowed_by(TimeWindows.of_size_and_grace(100, 30).advance_by(40))
     .count(materialized="store").to_stream().to("out"))


def _aggregate(b):
    (b.stream("in").group_by_key().windowed_by(TimeWindows.of_size_and_grace(100, 50))
     .aggregate(lambda: "", lambda k, v, agg: f"{agg}+{v}", materialized="store")
     .to_stream().to("out"))


def _reduce_send_old(b):
    table = (b.stream("in").group_by_key()
             .windowed_by(TimeWindows.of_size_and_grace(100, 50))
             .reduce(lambda agg, v: agg + v, materialized="store"))
    # re-grouping a table subtracts old values: wrong old values change the counts
    (table.group_by(lambda wk, v: (wk.key, v[-1])).count().to_stream()
     .to("out"))


def _persistent(b):
    _tumbling(b, Materialized.as_(Stores.persistent_window_store("store", 300, 100)))


def _on_close(b):
    (b.stream("in").group_by_key().windowed_by(TimeWindows.of_size_and_grace(100, 50))
     .emit_strategy(EmitStrategy.on_window_close())
     .count(materialized="store").to_stream().to("out"))


TOPOLOGIES = {"tumbling": _tumbling, "hopping": _hopping, "aggregate": _aggregate,
              "reduce_send_old": _reduce_send_old, "persistent": _persistent,
              "on_close": _on_close}
CONFIG = {"default.key.serde": "string", "default.value.serde": "string"}


def _topology(name):
    builder = StreamsBuilder()
    TOPOLOGIES[name](builder)
    return builder.build()


def _store_rows(store):
    return sorted((str(kv[0]), kv[1]) for kv in store.all())


def _through_driver(name, fused, tmp_path):
    config = {**CONFIG, "operator.fusion": fused, "state.dir": str(tmp_path / str(fused))}
    with TopologyTestDriver(_topology(name), config) as driver:
        node = next(n for n in driver._task.nodes.values() if "AGGREGATE" in n.name
                    or "REDUCE" in n.name)
        assert hasattr(node.process, "source") == fused  # fused code carries its source
        pipe = driver.create_input_topic("in")
        for key, value, ts in RECORDS:
            pipe.pipe_input(key, value, ts)
        out = driver.create_output_topic("out")
        records = [(str(r.key), r.value, r.timestamp) for r in out.read_records_to_list()]
        dropped = driver.metrics()["dropped-records"]
        rows = _store_rows(driver._task.stores["store"])
    return records, dropped, rows


@pytest.mark.parametrize("name", sorted(TOPOLOGIES))
def test_fused_windowed_aggregations_match_the_unfused_nodes(name, tmp_path):
    fused = _through_driver(name, True, tmp_path)
    plain = _through_driver(name, False, tmp_path)
    assert fused == plain
    records, dropped, rows = fused
    assert records and rows, "the comparison must have something to compare"
    assert dropped.get("null key") == 1
    assert dropped.get("expired window", 0) >= 1


class _Collector:
    """Keeps sink output in memory (no serdes) and counts changelog records."""

    def __init__(self):
        self.outputs = {}
        self.changelog = []

    def send(self, topic, key, value, timestamp, *args):
        self.outputs.setdefault(topic, []).append((key, value, timestamp))

    def sink_inline(self, topic, *args):
        return self.outputs.setdefault(topic, []).append, ("key", "value", "timestamp")

    def send_changelog(self, topic, partition, key, value, timestamp, *args):
        self.changelog.append((key, value, timestamp))


def _through_batches(name, fused, batch):
    topology = _topology(name)
    groups = topology.subtopologies()
    merged = Subtopology(0, [n for g in groups for n in g.nodes], [], [],
                         [s for g in groups for s in g.stores])
    collector = _Collector()
    task = Task("0_0", topology, merged, collector, "app", {"operator.fusion": fused})
    run = task.batch_entry("in")
    for index in range(0, len(RECORDS), batch):
        run(RECORDS[index:index + batch])
        task.commit()
    out = [(topic, str(k), repr(v), ts) for topic in sorted(collector.outputs)
           for k, v, ts in collector.outputs[topic]]
    result = (out, dict(task.ctx.dropped), _store_rows(task.stores["store"]),
              sorted(collector.changelog, key=repr))
    task.close()
    return result


@pytest.mark.parametrize("name", ["tumbling", "hopping", "aggregate", "reduce_send_old",
                                  "on_close"])
@pytest.mark.parametrize("batch", [1, 4, len(RECORDS)])
def test_fused_batch_loop_matches_unfused(name, batch):
    fused = _through_batches(name, True, batch)
    assert fused == _through_batches(name, False, batch)
    assert fused[0] and fused[3]


def test_aggregate_timestamp_and_late_drop_semantics_in_batches():
    out, dropped, rows, _log = _through_batches("tumbling", True, len(RECORDS))
    by_window = {}
    for topic, key, count, ts in out:
        assert topic == "out"
        count = int(count)
        by_window.setdefault(key, []).append((count, ts))
    # window [0,100) of "a": 0, 40, 25 (out of order: keeps ts 40), 30, 5 (within grace);
    # 95 arrives at stream time 260 >= 100 + 50: dropped, as is 150 at stream time 400.
    assert by_window["[a@0/100]"] == [(1, 0), (2, 40), (3, 40), (4, 40), (5, 40)]
    assert "[a@100/200]" not in by_window
    assert dropped == {"null key": 1, "expired window": 2}
    # a None value is counted (Kafka's time-window count); 990 is within 1000's grace
    assert by_window["[c@400/500]"] == [(1, 401)]
    assert by_window["[a@900/1000]"] == [(1, 990)]
    # the store dropped windows past the retention (size + grace = 150 ms) behind the
    # newest window start
    assert [key for key, _ in rows] == ["[a@1500/1600]"]
