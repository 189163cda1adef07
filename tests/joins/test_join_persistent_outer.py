"""The left/outer stream-stream join's "outer shared" store in sqlite: chosen by Kafka's
rule, same results as the in-memory store, reopened from its local file after a restart,
restored from an in-memory app's changelog."""

from __future__ import annotations

import random
import sqlite3

import pytest

from streamnb import Stores, StreamsBuilder, TopologyTestDriver
from streamnb.dsl.join_options import StreamJoined
from streamnb.dsl.join_windows import JoinWindows
from streamnb.errors import InvalidStateStoreException
from streamnb.state.join_persistent import PersistentOuterJoinStore
from streamnb.state.join_window import OuterJoinStore
from tests._restore import changelogs, restore_stores

CONFIG = {"application.id": "app", "default.key.serde": "string",
          "default.value.serde": "string"}
WINDOWS = JoinWindows.of_time_difference_and_grace(100, 20)
SHARED = "KSTREAM-OUTERSHARED-0000000004-store"


def _topology(kind, store="in_memory", stream_joined=None):
    builder = StreamsBuilder({"default.dsl.store": store})
    left, right = builder.stream("left"), builder.stream("right")
    args = (right, lambda a, b: f"{a}+{b}", WINDOWS, *([stream_joined] if stream_joined else []))
    getattr(left, kind)(*args).to("out")
    return builder.build()


def _cases(seed, count=120):
    """Records on both sides, mostly in time order, some late, some past their window."""
    rnd = random.Random(seed)
    now, records = 0, []
    for i in range(count):
        now += rnd.choice([0, 1, 5, 30, 80, 150])
        late = rnd.choice([0, 0, 0, 10, 60, 200]) if rnd.random() < 0.3 else 0
        records.append((rnd.choice(["left", "right"]), rnd.choice("abcde"), f"v{i}",
                        max(now - late, 0)))
    return records


def _pipe(driver, records):
    inputs = {t: driver.create_input_topic(t) for t in ("left", "right")}
    for topic, key, value, ts in records:
        inputs[topic].pipe_input(key, value, ts)
    return [(r.key, r.value, r.timestamp)
            for r in driver.create_output_topic("out").read_records_to_list()]


def _run(kind, store, records, state_dir):
    with TopologyTestDriver(_topology(kind, store), {**CONFIG, "state.dir": str(state_dir)}
                            ) as driver:
        return _pipe(driver, records)


# -- which store --------------------------------------------------------------------------
@pytest.mark.parametrize("default, this, other, persistent", [
    ("in_memory", None, None, False),
    ("persistent", None, None, True),
    ("in_memory", "persistent", None, True),    # like the this-side supplier...
    ("persistent", "in_memory", None, False),
    ("in_memory", None, "persistent", False),   # ...and only that one (Kafka's rule)
    ("persistent", None, "in_memory", True),
])
def test_outer_store_is_persistent_by_kafkas_rule(default, this, other, persistent, tmp_path):
    make = {"persistent": Stores.persistent_window_store,
            "in_memory": Stores.in_memory_window_store}
    joined = StreamJoined()
    if this:
        joined = joined.with_this_store_supplier(make[this]("mine", 220, 200,
                                                            retain_duplicates=True))
    if other:
        joined = joined.with_other_store_supplier(make[other]("theirs", 220, 200,
                                                              retain_duplicates=True))
    topology = _topology("left_join", default, joined)
    # Named after the this-side supplier when there is one, as in Kafka.
    shared = "mine-left-shared-join-store" if this else SHARED
    assert topology.stores[shared].supplier.persistent is persistent
    config = {**CONFIG, "state.dir": str(tmp_path)}
    with TopologyTestDriver(topology, config) as driver:
        store = driver.get_all_state_stores()[shared]
        assert type(store) is (PersistentOuterJoinStore if persistent else OuterJoinStore)
        assert _pipe(driver, [("left", "a", "x", 0), ("left", "b", "y", 200)]) == [
            ("a", "x+None", 0)]
    if persistent:
        assert (tmp_path / "app" / "0_0" / shared / "store.sqlite").is_file()


# -- same results -------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["left_join", "outer_join"])
@pytest.mark.parametrize("seed", [1, 2])
def test_persistent_outer_store_gives_the_in_memory_results(kind, seed, tmp_path):
    records = _cases(seed)
    expected = _run(kind, "in_memory", records, tmp_path / "memory")
    assert any(value.endswith("+None") or value.startswith("None+")
               for _k, value, _t in expected)  # the cases do park and emit null results
    assert _run(kind, "persistent", records, tmp_path / "disk") == expected


# -- restart from the local files ---------------------------------------------------------
def _restart(kind, store, first, second, state_dir):
    config = {**CONFIG, "state.dir": str(state_dir)}
    with TopologyTestDriver(_topology(kind, store), config) as driver:
        out = _pipe(driver, first)
        parked = list(driver.get_all_state_stores()[SHARED].all())
    with TopologyTestDriver(_topology(kind, store), config) as driver:
        reopened = list(driver.get_all_state_stores()[SHARED].all())
        out += _pipe(driver, second)
    return out, parked, reopened


def test_a_parked_record_survives_a_restart_and_is_emitted_when_its_window_closes(tmp_path):
    first = [("left", "a", "x", 0), ("left", "b", "y", 10), ("right", "a", "p", 50)]
    # After the restart the join's shared stream time starts over (as in Kafka); the first
    # record past b's window (10 + 100 + 20) emits it.
    second = [("left", "d", "z", 300), ("left", "e", "w", 500)]
    out, parked, reopened = _restart("left_join", "persistent", first, second, tmp_path / "d")
    assert parked == reopened == [((10, 0, "b"), ["y"])]
    assert out == [("a", "x+p", 50), ("b", "y+None", 10), ("d", "z+None", 300)]
    # An in-memory store (logged, but not restored here) forgets b over the same restart.
    out, _parked, reopened = _restart("left_join", "in_memory", first, second, tmp_path / "m")
    assert reopened == [] and ("b", "y+None", 10) not in out


@pytest.mark.parametrize("kind", ["left_join", "outer_join"])
@pytest.mark.parametrize("seed", [4, 7])
def test_restart_from_local_files_loses_and_repeats_nothing(kind, seed, tmp_path):
    """Every result of an uninterrupted run, once; only the time at which a parked record's
    null result comes out may move (the join's stream time restarts, as in Kafka)."""
    records = _cases(seed)
    split = len(records) // 2
    # A record that never finds a partner, parked just before the restart.
    records.insert(split, ("left", "z", "parked", records[split - 1][3]))
    split += 1
    expected = _run(kind, "persistent", records, tmp_path / "once")
    assert ("z", "parked+None", records[split - 1][3]) in expected
    out, parked, reopened = _restart(kind, "persistent", records[:split], records[split:],
                                     tmp_path / "twice")
    assert parked and reopened == parked
    assert sorted(out) == sorted(expected)


# -- restore from the changelog -----------------------------------------------------------
@pytest.mark.parametrize("kind", ["left_join", "outer_join"])
def test_in_memory_changelog_restores_into_the_persistent_store(kind, tmp_path):
    records = _cases(5)
    split = len(records) // 2
    with TopologyTestDriver(_topology(kind), {**CONFIG, "state.dir": str(tmp_path / "a")}
                            ) as driver:
        _pipe(driver, records[:split])
        logs = changelogs(driver)
        original = list(driver.get_all_state_stores()[SHARED].all())
    assert original
    results = {}
    for store in ("in_memory", "persistent"):
        config = {**CONFIG, "state.dir": str(tmp_path / store)}
        with TopologyTestDriver(_topology(kind, store), config) as driver:
            restore_stores(driver, logs)
            restored = driver.get_all_state_stores()[SHARED]
            assert list(restored.all()) == original
            results[store] = _pipe(driver, records[split:])
    assert results["persistent"] == results["in_memory"]


# -- the store itself ---------------------------------------------------------------------
def _rows(directory):
    with sqlite3.connect(directory / "store.sqlite") as conn:
        return conn.execute('SELECT COUNT(*) FROM "kv"').fetchone()[0]


def test_a_record_matched_within_one_commit_never_reaches_the_file(tmp_path):
    store = PersistentOuterJoinStore("s")
    store.init(tmp_path / "s")
    store.add(5, 0, "k", "v")
    store.remove(5, 0, "k")
    store.flush()
    assert _rows(tmp_path / "s") == 0
    store.add(5, 0, "k", "v")
    store.flush()
    assert _rows(tmp_path / "s") == 1
    store.remove(5, 0, "k")
    store.flush()
    assert _rows(tmp_path / "s") == 0
    store.close()


def test_reopened_store_keeps_values_and_arrival_order(tmp_path):
    store = PersistentOuterJoinStore("s")
    store.init(tmp_path / "s")
    store.add(7, 1, "z", "r1")
    store.add(7, 0, "y", "l1")
    store.add(7, 0, "x", "l2")
    store.add(7, 0, "y", "l3")  # a second value of one slot
    store.add(3, 1, "w", "r2")
    store.remove(3, 1, "w")
    before = list(store.all())
    store.close()
    with pytest.raises(InvalidStateStoreException, match="not open"):
        store.add(9, 0, "k", "v")
    again = PersistentOuterJoinStore("s")
    again.init(tmp_path / "s")
    assert list(again.all()) == before == [
        ((7, 0, "y"), ["l1", "l3"]), ((7, 0, "x"), ["l2"]), ((7, 1, "z"), ["r1"])]
    again.add(7, 0, "a", "l4")  # arrives after the reopened ones of the same time and side
    assert [slot for slot, _ in again.all()] == [(7, 0, "y"), (7, 0, "x"), (7, 0, "a"),
                                                 (7, 1, "z")]
    assert again.approximate_num_entries() == 4
    again.close()


def test_changelog_records_are_the_in_memory_stores(tmp_path):
    memory, disk = OuterJoinStore("s"), PersistentOuterJoinStore("s")
    disk.init(tmp_path / "s")
    logs = {id(memory): [], id(disk): []}
    for store in (memory, disk):
        sink = logs[id(store)]
        store._change_logger = lambda k, v, sink=sink: sink.append((k, v and (v[0], list(v[1]))))
        store.add(1, 0, "a", "x")
        store.add(1, 0, "a", "y")
        store.add(2, 1, "b", "z")
        store.remove(1, 0, "a")
        store.remove(1, 0, "missing")
    assert logs[id(disk)] == logs[id(memory)] == [
        ((1, 0, "a"), (0, ["x"])), ((1, 0, "a"), (0, ["x", "y"])), ((2, 1, "b"), (1, ["z"])),
        ((1, 0, "a"), None)]
    disk.close()


# -- a real app on a real broker ----------------------------------------------------------
@pytest.fixture(scope="module")
def kafka():
    from tests._kafka import noida_broker

    with noida_broker() as broker:
        yield broker


def test_runtime_restores_the_persistent_outer_store_from_its_changelog(kafka, tmp_path):
    """A record parked by a first run of a persistent left join comes back in a second run
    (the runtime rebuilds logged stores from their changelogs) and gets its null result
    once the second run's records close its window."""
    import time

    from confluent_kafka import Producer

    from streamnb import KafkaStreams
    from streamnb.broker import ensure_topics
    from tests._kafka import consume, unique_name

    minute = 60_000
    base = int(time.time() * 1000) - 10 * minute  # recent: the broker keeps records by time
    left, right, sink = unique_name("l"), unique_name("r"), unique_name("out")
    ensure_topics(kafka.bootstrap_servers, {left: 1, right: 1, sink: 1})
    app_id = unique_name("jp")

    def app():
        builder = StreamsBuilder({"default.dsl.store": "persistent"})
        builder.stream(left).left_join(
            builder.stream(right), lambda a, b: f"{a}+{b}",
            JoinWindows.of_time_difference_with_no_grace(minute)).to(sink)
        return builder.build()

    def config(state_dir):
        return {"application.id": app_id, "bootstrap.servers": kafka.bootstrap_servers,
                "state.dir": str(state_dir), "default.key.serde": "string",
                "default.value.serde": "string", "commit.interval.ms": 100,
                "session.timeout.ms": 6000, "heartbeat.interval.ms": 500}

    def produce(topic, records):
        producer = Producer({"bootstrap.servers": kafka.bootstrap_servers})
        for key, value, seconds in records:
            producer.produce(topic, value.encode(), key.encode(),
                             timestamp=base + seconds * 1000)
        assert producer.flush(10) == 0

    def results(count):
        return [(m.key(), m.value()) for m in consume(kafka, sink, count, timeout=30.0)]

    produce(left, [("a", "x", 1), ("b", "y", 2)])
    produce(right, [("a", "p", 3)])
    first = KafkaStreams(app(), config(tmp_path / "one"))
    first.start()
    try:
        assert results(1) == [(b"a", b"x+p")]
    finally:
        assert first.close(10)
    assert (tmp_path / "one" / app_id / "0_0" / SHARED / "store.sqlite").is_file()

    # c parks, d closes the windows of b (restored) and c.
    produce(left, [("c", "z", 100), ("d", "w", 200)])
    again = KafkaStreams(app(), config(tmp_path / "two"))
    again.start()
    try:
        got = results(3)
        restored = again.metrics()["restore-total"]
    finally:
        again.close(10)
    assert got == [(b"a", b"x+p"), (b"b", b"y+None"), (b"c", b"z+None")]
    assert restored >= 1
