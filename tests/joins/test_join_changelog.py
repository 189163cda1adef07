"""Stream-stream join stores are change-logged as Kafka's (topic names, key layouts) and
restore from their changelog; persistent stores and store suppliers via StreamJoined."""

from __future__ import annotations

import pytest

from streamnb import Serdes, Stores, StreamsBuilder, TopologyTestDriver
from streamnb.dsl._windowed_serde import WindowStoreKeySerde
from streamnb.dsl.join_options import StreamJoined
from streamnb.dsl.join_windows import JoinWindows
from streamnb.errors import StreamsException
from streamnb.runtime.restore import RestoreTarget, _apply
from streamnb.state._join_serdes import LeftOrRightValuesSerde, TimestampedKeyAndJoinSideSerde
from streamnb.state.join_window import JoinWindowStore, OuterJoinStore
from streamnb.state.window import PersistentWindowStore

CONFIG = {"application.id": "app", "default.key.serde": "string",
          "default.value.serde": "string"}
WINDOWS = JoinWindows.of_time_difference_and_grace(100, 10)


def _joined(kind, stream_joined=None, config=None):
    builder = StreamsBuilder(config) if config else StreamsBuilder()
    left, right = builder.stream("left"), builder.stream("right")
    args = (right, lambda a, b: f"{a}+{b}", WINDOWS)
    getattr(left, kind)(*args, *([stream_joined] if stream_joined else [])).to("out")
    return builder.build()


def _feed(driver):
    left, right = driver.create_input_topic("left"), driver.create_input_topic("right")
    left.pipe_input("a", "x", 0)
    right.pipe_input("a", "y", 50)
    left.pipe_input("b", "z", 60)
    right.pipe_input("c", "w", 500)
    return [(r.key, r.value, r.timestamp)
            for r in driver.create_output_topic("out").read_records_to_list()]


@pytest.mark.parametrize("kind, stores", [
    ("join", ["KSTREAM-JOINTHIS-0000000004-store", "KSTREAM-JOINOTHER-0000000005-store"]),
    ("left_join", ["KSTREAM-JOINTHIS-0000000004-store", "KSTREAM-OUTEROTHER-0000000005-store",
                   "KSTREAM-OUTERSHARED-0000000004-store"]),
    ("outer_join", ["KSTREAM-OUTERTHIS-0000000004-store",
                    "KSTREAM-OUTEROTHER-0000000005-store",
                    "KSTREAM-OUTERSHARED-0000000004-store"]),
])
def test_changelog_topics_are_named_as_kafka_names_them(kind, stores):
    with TopologyTestDriver(_joined(kind), CONFIG) as driver:
        _feed(driver)
        assert driver.produced_topic_names() == {"out", *(f"app-{s}-changelog" for s in stores)}


def test_named_stores_and_disabled_logging():
    named = StreamJoined.as_("st").with_name("nm")
    with TopologyTestDriver(_joined("left_join", named), CONFIG) as driver:
        _feed(driver)
        assert driver.produced_topic_names() == {
            "out", "app-st-this-join-store-changelog",
            "app-st-outer-other-join-store-changelog", "app-st-left-shared-join-store-changelog"}
    quiet = StreamJoined.as_("st").with_logging_disabled()
    with TopologyTestDriver(_joined("outer_join", quiet), CONFIG) as driver:
        _feed(driver)
        assert driver.produced_topic_names() == {"out"}


def test_window_store_changelog_config_is_kafkas():
    topology = _joined("join", StreamJoined().with_logging_enabled({"segment.bytes": "1000"}))
    builder = topology.stores["KSTREAM-JOINTHIS-0000000004-store"]
    assert builder.logging_config == {"retention.ms": str(210 + 86_400_000),
                                      "segment.bytes": "1000", "cleanup.policy": "delete"}


def _changelog(driver, store, key_serde, value_serde):
    return driver.create_output_topic(f"app-{store}-changelog", key_serde,
                                      value_serde).read_records_to_list()


def test_join_stores_restore_from_their_changelog():
    """Records read back through the changelog serdes (bytes) rebuild equal stores."""
    with TopologyTestDriver(_joined("outer_join"), CONFIG) as driver:
        _feed(driver)
        stores = driver.get_all_state_stores()
        this = "KSTREAM-OUTERTHIS-0000000004-store"
        shared = "KSTREAM-OUTERSHARED-0000000004-store"
        window_log = _changelog(driver, this, WindowStoreKeySerde(Serdes.String()),
                                Serdes.String())
        outer_log = _changelog(driver, shared, TimestampedKeyAndJoinSideSerde(Serdes.String()),
                               LeftOrRightValuesSerde(Serdes.String(), Serdes.String()))
        assert [(r.key, r.value) for r in window_log] == [(("a", 0, 1), "x"), (("b", 60, 2), "z")]
        assert [(r.key, r.value) for r in outer_log] == [
            ((0, 0, "a"), (0, ["x"])), ((0, 0, "a"), None), ((60, 0, "b"), (0, ["z"])),
            ((60, 0, "b"), None), ((500, 1, "c"), (1, ["w"]))]
        window = JoinWindowStore(this, 210, 200)
        for record in window_log:
            _apply(RestoreTarget(window, "t", 0, None, None, True), record.key, record.value,
                   record.timestamp)
        assert list(window.all()) == list(stores[this].all())
        outer = OuterJoinStore(shared)
        for record in outer_log:
            _apply(RestoreTarget(outer, "t", 0, None, None, False), record.key, record.value,
                   record.timestamp)
        assert list(outer.all()) == list(stores[shared].all()) == [((500, 1, "c"), ["w"])]


def test_outer_store_key_layout_is_kafkas():
    serde = TimestampedKeyAndJoinSideSerde(Serdes.String())
    data = serde.serialize("t", (5, 0, "k"))
    assert data == (5).to_bytes(8, "big") + b"\x01" + b"k"
    assert serde.deserialize("t", data) == (5, 0, "k")


def test_persistent_join_stores_give_the_same_results(tmp_path):
    expected = [("a", "x+y", 50), ("b", "z+None", 60)]
    with TopologyTestDriver(_joined("outer_join"), CONFIG) as driver:
        assert _feed(driver) == expected
    config = {**CONFIG, "state.dir": str(tmp_path)}
    topology = _joined("outer_join", config={"default.dsl.store": "persistent"})
    with TopologyTestDriver(topology, config) as driver:
        assert _feed(driver) == expected
        store = driver.get_all_state_stores()["KSTREAM-OUTERTHIS-0000000004-store"]
        assert isinstance(store, PersistentWindowStore) and store.retain_duplicates


def test_store_suppliers_name_the_stores(tmp_path):
    joined = StreamJoined.with_store_suppliers(
        Stores.persistent_window_store("mine", 210, 200, retain_duplicates=True),
        Stores.in_memory_window_store("theirs", 210, 200, retain_duplicates=True))
    with TopologyTestDriver(_joined("join", joined), {**CONFIG, "state.dir": str(tmp_path)}
                            ) as driver:
        assert _feed(driver) == [("a", "x+y", 50)]
        assert {"mine", "theirs"} <= set(driver.get_all_state_stores())
        assert "app-mine-changelog" in driver.produced_topic_names()


@pytest.mark.parametrize("this, message", [
    (Stores.in_memory_window_store("a", 210, 200), "must set retainDuplicates=true"),
    (Stores.in_memory_window_store("a", 300, 200, retain_duplicates=True),
     "Window settings mismatch"),
    (Stores.in_memory_window_store("b", 210, 200, retain_duplicates=True),
     "Both StoreSuppliers have the same name"),
])
def test_bad_store_suppliers_are_rejected(this, message):
    other = Stores.in_memory_window_store("b", 210, 200, retain_duplicates=True)
    with pytest.raises(StreamsException, match=message):
        _joined("join", StreamJoined.with_store_suppliers(this, other))


def test_a_store_supplier_must_be_a_window_supplier():
    with pytest.raises(TypeError, match="window store supplier"):
        StreamJoined().with_this_store_supplier(Stores.in_memory_key_value_store("kv"))
