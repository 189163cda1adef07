"""The KTable source's fast path on an in-memory store (``raw_ops``): an upsert is a store
assignment and a change-logger assignment, with no store read unless old values are sent;
deletes and null keys keep the checked path. Outputs match Kafka's KTableSource."""

from __future__ import annotations

from streamnb import Materialized, Serdes, StreamsBuilder, TopologyTestDriver
from streamnb.dsl import Consumed, Grouped
from streamnb.dsl._stateful import TableSourceNode
from streamnb.state.memory import InMemoryKeyValueStore

STR = Serdes.String()


def _count_reads(monkeypatch) -> list:
    """Record every key read from an in-memory store (``get``, or ``raw_ops``' get)."""
    reads: list = []
    real = InMemoryKeyValueStore.raw_ops
    real_get = InMemoryKeyValueStore.get

    def get(self, key):
        reads.append(key)
        return real_get(self, key)

    def raw_ops(self):
        get, set_value, log = real(self)

        def counted_get(key, default=None):
            reads.append(key)
            return get(key, default)
        return counted_get, set_value, log

    monkeypatch.setattr(InMemoryKeyValueStore, "raw_ops", raw_ops)
    monkeypatch.setattr(InMemoryKeyValueStore, "get", get)
    return reads


def test_upserts_do_not_read_the_store_when_no_old_values_are_sent(monkeypatch):
    reads = _count_reads(monkeypatch)
    builder = StreamsBuilder()
    builder.table("in", Consumed.with_(STR, STR), Materialized.as_("kv")).to_stream().to(
        "out")
    with TopologyTestDriver(builder.build()) as driver:
        inp = driver.create_input_topic("in", STR, STR)
        for key, value, ts in (("a", "1", 10), ("b", "2", 11), ("a", "3", 12)):
            inp.pipe_input(key, value, ts)
        out = driver.create_output_topic("out", STR, STR).read_records_to_list()
        assert [(r.key, r.value, r.timestamp) for r in out] == [
            ("a", "1", 10), ("b", "2", 11), ("a", "3", 12)]
        assert reads == []
        store = driver.get_timestamped_key_value_store("kv")
        assert (store.get("a").value, store.get("a").timestamp) == ("3", 12)


def test_the_fast_path_is_the_one_that_runs():
    builder = StreamsBuilder()
    builder.table("in", Consumed.with_(STR, STR), Materialized.as_("kv"))
    with TopologyTestDriver(builder.build()) as driver:
        nodes = [n for n in driver._task.nodes.values() if isinstance(n, TableSourceNode)]
        assert len(nodes) == 1
        assert nodes[0].process.__name__ == "raw_process"


def test_deletes_and_null_keys_keep_kafka_semantics():
    builder = StreamsBuilder()
    builder.table("in", Consumed.with_(STR, STR), Materialized.as_("kv")).to_stream().to(
        "out")
    with TopologyTestDriver(builder.build()) as driver:
        inp = driver.create_input_topic("in", STR, STR)
        inp.pipe_input("a", "1", 10)
        inp.pipe_input("a", None, 11)  # delete: forwarded as a tombstone
        inp.pipe_input("x", None, 12)  # a tombstone for a missing key is still forwarded
        inp.pipe_input(None, "v", 13)  # null key: dropped
        out = driver.create_output_topic("out", STR, STR).read_records_to_list()
        assert [(r.key, r.value, r.timestamp) for r in out] == [
            ("a", "1", 10), ("a", None, 11), ("x", None, 12)]
        assert driver.get_key_value_store("kv").get("a") is None
        assert driver.metrics()["dropped-records-total"] == 1


def test_old_values_reach_a_regrouping_downstream(monkeypatch):
    """group_by makes the source send old values: the fast path then reads the store and
    the counts move from the old group to the new one (KTableRepartitionMap)."""
    reads = _count_reads(monkeypatch)
    builder = StreamsBuilder()
    (builder.table("in", Consumed.with_(STR, STR), Materialized.as_("kv"))
     .group_by(lambda k, v: (v, v), Grouped.with_(STR, STR)).count().to_stream().to("out"))
    with TopologyTestDriver(builder.build()) as driver:
        inp = driver.create_input_topic("in", STR, STR)
        for key, value, ts in (("A", "green", 10), ("B", "green", 9), ("A", "blue", 12)):
            inp.pipe_input(key, value, ts)
        out = driver.create_output_topic("out", STR, Serdes.Long()).read_records_to_list()
        assert [(r.key, r.value, r.timestamp) for r in out] == [
            ("green", 1, 10), ("green", 2, 10), ("green", 1, 12), ("blue", 1, 12)]
    # The source reads each key's old value; the count store reads each group it updates.
    assert reads.count("A") == 2 and reads.count("B") == 1
