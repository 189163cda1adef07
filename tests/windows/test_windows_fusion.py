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


def _through_batches(name, fused, batch, records=RECORDS, prefill=()):
    topology = _topology(name)
    groups = topology.subtopologies()
    merged = Subtopology(0, [n for g in groups for n in g.nodes], [], [],
                         [s for g in groups for s in g.stores])
    collector = _Collector()
    task = Task("0_0", topology, merged, collector, "app", {"operator.fusion": fused})
    store = task.stores["store"]
    for key, stored, start in prefill:  # as a changelog restore leaves the store
        store._restore((key, start), stored)
    run = task.batch_entry("in")
    for index in range(0, len(records), batch):
        run(records[index:index + batch])
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


def test_restored_windows_are_updated_as_unfused():
    """Keys already in the store (restored from the changelog) have no windowed key made by
    the fused loop yet: their first update must still forward the right key and count."""
    prefill = [("a", (7, 20), 0), ("b", (2, 10), 0), ("z", (1, 30), 0)]
    for batch in (1, 3, len(RECORDS)):
        fused = _through_batches("tumbling", True, batch, prefill=prefill)
        assert fused == _through_batches("tumbling", False, batch, prefill=prefill)
        counts = [(key, count) for _topic, key, count, _ts in fused[0]]
        assert counts[:2] == [("[a@0/100]", "8"), ("[b@0/100]", "3")]


def test_many_open_windows_match_unfused():
    """A grace period spanning many windows: records hop between more open windows than the
    fused loop keeps windowed keys for, and back again."""
    records = [(key, "v", ts) for ts in range(0, 400, 7) for key in ("a", "b")]
    records += [("a", "v", ts) for ts in (390, 250, 310, 260, 395, 215, 330, 305)]

    def hop(b):
        (b.stream("in").group_by_key().windowed_by(TimeWindows.of_size_and_grace(20, 200))
         .count(materialized="store").to_stream().to("out"))

    TOPOLOGIES["many_open"] = hop
    try:
        for batch in (1, 5, len(records)):
            fused = _through_batches("many_open", True, batch, records)
            assert fused == _through_batches("many_open", False, batch, records)
    finally:
        del TOPOLOGIES["many_open"]


def test_repeated_updates_forward_equal_immutable_looking_keys():
    """One windowed key per key and window may be reused for every update: each forwarded
    key still equals (and hashes as) a freshly built one, with its own key and window."""
    from streamnb.dsl.windows import TimeWindow, Windowed

    topology = _topology("tumbling")
    groups = topology.subtopologies()
    merged = Subtopology(0, [n for g in groups for n in g.nodes], [], [],
                         [s for g in groups for s in g.stores])
    collector = _Collector()
    task = Task("0_0", topology, merged, collector, "app", {"operator.fusion": True})
    run = task.batch_entry("in")
    run([("a", "x", 1), ("b", "x", 2), ("a", "x", 3)])
    run([("a", "x", 4), ("a", "x", 104)])
    keys = [key for key, _value, _ts in collector.outputs["out"]]
    expected = [("a", 0), ("b", 0), ("a", 0), ("a", 0), ("a", 100)]
    for key, (name, start) in zip(keys, expected, strict=True):
        fresh = Windowed(name, TimeWindow(start, start + 100))
        assert key == fresh and hash(key) == hash(fresh)
        assert (key.key, key.window.start, key.window.end) == (name, start, start + 100)
    assert [value for _key, value, _ts in collector.outputs["out"]] == [1, 1, 2, 3, 1]
    task.close()
