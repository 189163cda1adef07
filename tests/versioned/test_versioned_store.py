"""Versioned key-value stores: one suite over the in-memory and the persistent store, with
the expectations of Kafka's RocksDBVersionedStoreTest / VersionedKeyValueStore javadoc."""

from __future__ import annotations

import pytest

from streamnb import Materialized, StreamsBuilder, TopologyTestDriver
from streamnb.processor import Processor
from streamnb.state import Stores
from streamnb.state.versioned import (
    PUT_RETURN_CODE_NOT_PUT,
    PUT_RETURN_CODE_VALID_TO_UNDEFINED,
    VersionedRecord,
)

RETENTION = 300_000


@pytest.fixture(params=["in_memory", "persistent"])
def store(request, tmp_path):
    if request.param == "in_memory":
        supplier = Stores.in_memory_versioned_key_value_store("v", RETENTION)
    else:
        supplier = Stores.persistent_versioned_key_value_store("v", RETENTION)
    s = supplier.get()
    s.init(tmp_path / "v")
    yield s
    s.close()


def test_put_returns_kafka_codes_and_get_latest(store):
    assert store.put("k", "a", 10) == PUT_RETURN_CODE_VALID_TO_UNDEFINED
    assert store.put("k", "b", 20) == PUT_RETURN_CODE_VALID_TO_UNDEFINED
    assert store.put("k", "x", 15) == 20  # out of order: valid until the next version
    assert store.get("k") == VersionedRecord("b", 20)
    assert store.get("missing") is None


def test_get_as_of_is_inclusive_and_tombstones_read_as_none(store):
    store.put("k", "a", 10)
    store.put("k", None, 20)
    store.put("k", "c", 30)
    assert store.get("k", 9) is None
    assert store.get("k", 10) == VersionedRecord("a", 10, 20)
    assert store.get("k", 19).value == "a"
    assert store.get("k", 25) is None          # tombstone version
    assert store.get("k", 30) == VersionedRecord("c", 30, None)
    assert store.get("k", 10**12).value == "c"


def test_same_timestamp_replaces_the_version(store):
    store.put("k", "a", 10)
    store.put("k", "b", 20)
    assert store.put("k", "a2", 10) == 20
    assert store.get("k", 12).value == "a2"
    assert [v.value for v in store.versions("k")] == ["a2", "b"]


def test_too_old_put_is_rejected_and_too_old_get_is_none(store):
    store.put("other", "only", 5)
    store.put("k", "old", 0)
    store.put("k", "new", RETENTION + 100)
    # older than observed stream time - history retention
    assert store.put("k", "late", 99) == PUT_RETURN_CODE_NOT_PUT
    assert store.put("k", "ok", 100) == RETENTION + 100
    assert store.get("k", 50) is None            # beyond history retention: None (as Kafka)
    assert store.get("k", 100).value == "ok"
    # ... unless the latest version itself answers it
    assert store.get("other", 60) == VersionedRecord("only", 5, None)


def test_delete_returns_the_version_it_ends(store):
    store.put("k", "a", 10)
    assert store.delete("k", 15) == VersionedRecord("a", 10, None)
    assert store.get("k") is None
    assert store.get("k", 12).value == "a"
    store.put("k", "z", RETENTION + 1000)
    assert store.delete("k", 0) is None  # too old: nothing deleted
    assert store.get("k").value == "z"


def test_history_is_cleaned_up_once_stream_time_passes_retention(store):
    for ts in range(0, 2_000_000, 10_000):
        store.put(ts % 7, ts, ts)
        store.put("gone", None if ts % 20_000 else ts, ts)
    # Only versions that some query within the retention can reach are kept.
    versions = store.num_versions()
    assert versions < 2 * (RETENTION // 10_000 + 20)
    assert store.get(3, 1_990_000 - 1).timestamp >= 1_990_000 - 70_000


def test_driver_reads_versioned_store_with_as_of():
    builder = StreamsBuilder()
    builder.table("t", materialized=Materialized.as_("vt").with_versioned(1000))
    with TopologyTestDriver(builder.build()) as driver:
        t = driver.create_input_topic("t")
        t.pipe_input("k", "a", 10)
        t.pipe_input("k", "b", 20)
        view = driver.get_versioned_key_value_store("vt")
        assert view.get("k").value == "b"
        assert view.get("k", as_of_timestamp=15).value == "a"
        assert view.get("k", as_of_timestamp=15).timestamp == 10


def test_versioned_table_source_semantics():
    """Out-of-order updates are stored but not forwarded as latest; too-old ones are dropped."""
    builder = StreamsBuilder()
    table = builder.table("t", materialized=Materialized.as_("vt").with_versioned(100))
    table.to_stream().to("changes")
    right = builder.table("r")
    table.join(right, lambda a, b: f"{a}+{b}").to_stream().to("joined")
    with TopologyTestDriver(builder.build()) as driver:
        t, r = driver.create_input_topic("t"), driver.create_input_topic("r")
        r.pipe_input("k", "R", 0)
        t.pipe_input("k", "a", 200)
        t.pipe_input("k", "late", 150)   # out of order, within retention
        t.pipe_input("k", "too-old", 50)  # older than 200 - 100: rejected
        assert driver.create_output_topic("changes").read_values_to_list() == ["a", "late"]
        # the table-table join skips the not-latest update
        assert driver.create_output_topic("joined").read_values_to_list() == ["a+R"]
        view = driver.get_versioned_key_value_store("vt")
        assert view.get("k").value == "a"
        assert view.get("k", 160).value == "late"
        assert view.get("k", 60) is None


def test_processor_api_uses_a_versioned_store():
    class Keep(Processor):
        def init(self, context):
            self.store = context.get_state_store("hist")

        def process(self, record):
            self.store.put(record.key, record.value, record.timestamp)

    builder = StreamsBuilder()
    builder.add_state_store(Stores.versioned_key_value_store_builder(
        Stores.in_memory_versioned_key_value_store("hist", 1000)))
    builder.stream("in").process(lambda: Keep(), "hist")
    with TopologyTestDriver(builder.build()) as driver:
        inp = driver.create_input_topic("in")
        inp.pipe_input("k", 1, 5)
        inp.pipe_input("k", 2, 9)
        store = driver.get_versioned_key_value_store("hist")
        assert store.get("k", 6) == VersionedRecord(1, 5, 9)


def test_persistent_store_survives_reopen(tmp_path):
    supplier = Stores.persistent_versioned_key_value_store("p", 100)
    first = supplier.get()
    first.init(tmp_path / "p")
    first.put("k", "a", 500)
    first.put("k", "b", 600)
    first.close()
    second = supplier.get()
    second.init(tmp_path / "p")
    assert second.get("k", 550).value == "a"
    assert second.put("k", "old", 10) == PUT_RETURN_CODE_NOT_PUT  # stream time was kept
    second.close()


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="negative"):
        Stores.in_memory_versioned_key_value_store("x", -1)
    with pytest.raises(TypeError, match="versioned store supplier"):
        Stores.versioned_key_value_store_builder(Stores.in_memory_key_value_store("kv"))
    s = Stores.in_memory_versioned_key_value_store("x", 10).get()
    s.init()
    with pytest.raises(TypeError, match="as_of_timestamp"):
        s.get("k", "yesterday")
