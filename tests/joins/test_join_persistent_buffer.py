"""The stream-table join's grace buffer (``<join>-Buffer``) in sqlite, as Kafka's
``RocksDBTimeOrderedKeyValueBuffer``: always persistent, same joins as the in-memory buffer,
reopened from its local file after a restart, restored from an in-memory buffer's
changelog."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from streamnb import Materialized, Serdes, Stores, StreamsBuilder, TopologyTestDriver
from streamnb.dsl.join_options import Joined
from streamnb.processor import Headers
from streamnb.state.builders import StoreSupplier
from streamnb.state.join_persistent import PersistentStreamJoinBuffer
from streamnb.state.join_window import StreamJoinBuffer
from tests._restore import changelogs, restore_stores

CONFIG = {"application.id": "app", "default.key.serde": "integer",
          "default.value.serde": "string"}
BUFFER = "Grace-Buffer"
GRACE = 20


def _topology(left=False, store="in_memory", in_memory_buffer=False):
    builder = StreamsBuilder({"default.dsl.store": store})
    table = builder.table("table", materialized=Materialized.as_(
        Stores.persistent_versioned_key_value_store("V", timedelta(minutes=5))))
    join = builder.stream("stream").left_join if left else builder.stream("stream").join
    join(table, lambda a, b: f"{a}+{b}",
         Joined.with_(Serdes.Integer(), Serdes.String(), Serdes.String(), "Grace", GRACE)
         ).to("out")
    topology = builder.build()
    if in_memory_buffer:  # the in-memory buffer, to compare with
        topology.stores[BUFFER].supplier = StoreSupplier(
            BUFFER, "key_value", lambda: StreamJoinBuffer(BUFFER, GRACE), persistent=False)
    return topology


def _cases(seed, count=150):
    """Stream records (some late, some too late for the buffer) and table updates."""
    rnd = random.Random(seed)
    now, records = 0, []
    for i in range(count):
        now += rnd.choice([0, 1, 3, 10, 25])
        late = rnd.choice([0, 5, 15, 40]) if rnd.random() < 0.3 else 0
        topic = "table" if rnd.random() < 0.3 else "stream"
        records.append((topic, rnd.randrange(4), f"{topic[0]}{i}", max(now - late, 0)))
    return records


def _pipe(driver, records):
    inputs = {t: driver.create_input_topic(t) for t in ("stream", "table")}
    for topic, key, value, ts in records:
        inputs[topic].pipe_input(key, value, ts)
    return [(r.key, r.value, r.timestamp)
            for r in driver.create_output_topic("out").read_records_to_list()]


def _run(records, state_dir, **topology):
    with TopologyTestDriver(_topology(**topology), {**CONFIG, "state.dir": str(state_dir)}
                            ) as driver:
        return _pipe(driver, records)


@pytest.mark.parametrize("store", ["in_memory", "persistent"])
def test_buffer_is_persistent_whatever_the_default_store(store, tmp_path):
    topology = _topology(store=store)
    assert topology.stores[BUFFER].supplier.persistent
    with TopologyTestDriver(topology, {**CONFIG, "state.dir": str(tmp_path)}) as driver:
        assert type(driver.get_all_state_stores()[BUFFER]) is PersistentStreamJoinBuffer
        _pipe(driver, [("table", 1, "t", 0), ("stream", 1, "s", 5)])
    assert (tmp_path / "app" / "0_0" / BUFFER / "store.sqlite").is_file()


@pytest.mark.parametrize("left", [False, True])
@pytest.mark.parametrize("seed", [1, 2])
def test_persistent_buffer_joins_as_the_in_memory_buffer(left, seed, tmp_path):
    records = _cases(seed)
    expected = _run(records, tmp_path / "memory", left=left, in_memory_buffer=True)
    assert len(expected) > 40
    assert _run(records, tmp_path / "disk", left=left) == expected


def _restart(first, second, state_dir, **topology):
    config = {**CONFIG, "state.dir": str(state_dir)}
    with TopologyTestDriver(_topology(**topology), config) as driver:
        out = _pipe(driver, first)
        waiting = list(driver.get_all_state_stores()[BUFFER].all())
    with TopologyTestDriver(_topology(**topology), config) as driver:
        reopened = list(driver.get_all_state_stores()[BUFFER].all())
        out += _pipe(driver, second)
    return out, waiting, reopened


def test_waiting_records_survive_a_restart_and_join_after_the_grace(tmp_path):
    first = [("table", 1, "A", 0), ("stream", 1, "x", 10), ("stream", 1, "y", 12),
             ("table", 1, "B", 11)]
    second = [("stream", 2, "z", 40)]
    out, waiting, reopened = _restart(first, second, tmp_path / "d")
    assert waiting == reopened == [(1, 10, "x"), (1, 12, "y")]
    # x joins the table as of 10 (A), y as of 12 (B), once stream time is 20 past them.
    assert out == [(1, "x+A", 10), (1, "y+B", 12)]
    out, _waiting, reopened = _restart(first, second, tmp_path / "m", in_memory_buffer=True)
    assert reopened == [] and out == []  # an in-memory buffer forgets them (not restored)


def test_headers_of_waiting_records_survive_a_restart(tmp_path):
    config = {**CONFIG, "state.dir": str(tmp_path)}
    with TopologyTestDriver(_topology(left=True), config) as driver:
        driver.create_input_topic("stream").pipe_input(1, "x", 10, Headers([("h", b"1")]))
    with TopologyTestDriver(_topology(left=True), config) as driver:
        driver.create_input_topic("stream").pipe_input(2, "y", 40)
        first = driver.create_output_topic("out").read_records_to_list()[0]
        assert (first.key, first.value) == (1, "x+None")
        assert first.headers.last_header("h") == b"1"


def test_in_memory_changelog_restores_into_the_persistent_buffer(tmp_path):
    records = _cases(3)
    split = len(records) // 2
    config = {**CONFIG, "state.dir": str(tmp_path / "a")}
    with TopologyTestDriver(_topology(in_memory_buffer=True), config) as driver:
        _pipe(driver, records[:split])
        logs = changelogs(driver)
        original = list(driver.get_all_state_stores()[BUFFER].all())
    assert original
    results = {}
    for memory in (True, False):
        config = {**CONFIG, "state.dir": str(tmp_path / str(memory))}
        with TopologyTestDriver(_topology(in_memory_buffer=memory), config) as driver:
            restore_stores(driver, logs)
            assert list(driver.get_all_state_stores()[BUFFER].all()) == original
            results[memory] = _pipe(driver, records[split:])
    assert results[False] == results[True]


def test_buffer_store_matches_the_in_memory_one_across_reopens(tmp_path):
    """Random puts and evictions, the persistent buffer flushed and reopened now and then."""
    rnd = random.Random(9)
    memory_log: list = []
    disk_log: list = []
    memory = StreamJoinBuffer("b", GRACE)
    memory._change_logger = lambda k, v: memory_log.append((k, v))

    def open_disk():
        store = PersistentStreamJoinBuffer("b", GRACE)
        store.init(tmp_path / "b")
        store._change_logger = lambda k, v: disk_log.append((k, v))
        return store

    disk = open_disk()
    now = 0
    for step in range(400):
        now += rnd.choice([0, 1, 4, 9])
        ts = max(now - rnd.choice([0, 0, 10, 30]), 0)
        key = rnd.randrange(5)
        assert disk.put(now, key, f"v{step}", ts) == memory.put(now, key, f"v{step}", ts)
        if rnd.random() < 0.5:
            assert list(disk.evict(now)) == list(memory.evict(now))
        if step % 97 == 96:
            disk.close()
            disk = open_disk()
        assert list(disk.all()) == list(memory.all())
        assert disk.approximate_num_entries() == memory.approximate_num_entries()
    assert disk_log == memory_log
    assert len(memory_log) > 400  # puts and their eviction tombstones
    disk.close()
