"""Stream-table joins with a grace period (``Joined.with_grace_period``), after Kafka's
``KStreamKTableJoinTest`` grace cases: records wait in the ``<name>-Buffer`` store and are
joined in timestamp order against the versioned table as of their own timestamps."""

from __future__ import annotations

from datetime import timedelta

import pytest

from streamnb import Materialized, Serdes, Stores, StreamsBuilder, TopologyTestDriver
from streamnb.dsl.join_options import Joined
from streamnb.errors import TopologyException

CONFIG = {"application.id": "app", "default.key.serde": "integer",
          "default.value.serde": "string"}
KEYS = [0, 1, 2, 3]


def _grace_join(grace_ms, history=timedelta(minutes=5)):
    builder = StreamsBuilder()
    stream = builder.stream("streamTopic")
    table = builder.table("tableTopic2", materialized=Materialized.as_(
        Stores.persistent_versioned_key_value_store("V-grace", history)))
    stream.join(table, lambda a, b: f"{a}+{b}",
                Joined.with_(Serdes.Integer(), Serdes.String(), Serdes.String(), "Grace",
                             grace_ms)).to("out")
    return builder


@pytest.fixture
def grace_driver():
    with TopologyTestDriver(_grace_join(2).build(), CONFIG) as driver:
        yield (driver, driver.create_input_topic("streamTopic"),
               driver.create_input_topic("tableTopic2"), driver.create_output_topic("out"))


def _push(topic, count, prefix, timestamps=True):
    for i in range(count):
        topic.pipe_input(KEYS[i], f"{prefix}{KEYS[i]}", i if timestamps else 0)


def _read(out):
    return [(r.key, r.value, r.timestamp) for r in out.read_records_to_list()]


def test_delays_join_by_grace_period(grace_driver):
    _driver, stream, table, out = grace_driver
    _push(table, 4, "Y", timestamps=False)
    assert _read(out) == []
    _push(stream, 4, "X")
    assert _read(out) == [(0, "X0+Y0", 0), (1, "X1+Y1", 1)]
    _push(table, 4, "YY", timestamps=False)
    assert _read(out) == []
    _push(stream, 4, "X")
    assert _read(out) == [(0, "X0+YY0", 0), (1, "X1+YY1", 1)]
    stream.pipe_input(5, "test", 7)
    assert _read(out) == [(2, "X2+YY2", 2), (2, "X2+YY2", 2), (3, "X3+YY3", 3),
                          (3, "X3+YY3", 3)]
    _push(table, 4, "YYY", timestamps=False)
    assert _read(out) == []


def test_late_record_joins_at_once_without_evicting(grace_driver):
    _driver, stream, table, out = grace_driver
    _push(table, 4, "Y", timestamps=False)
    _push(stream, 4, "X")
    assert _read(out) == [(0, "X0+Y0", 0), (1, "X1+Y1", 1)]
    _push(stream, 1, "X")
    assert _read(out) == [(0, "X0+Y0", 0)]


def test_buffered_record_sees_a_late_table_update_as_of_its_time(grace_driver):
    """The point of the grace period: a table update arriving after the stream record (but
    with an earlier timestamp, within the grace) is still joined."""
    _driver, stream, table, out = grace_driver
    stream.pipe_input(0, "order", 10)
    table.pipe_input(0, "late-customer", 9)
    assert _read(out) == []
    stream.pipe_input(1, "other", 12)
    assert _read(out) == [(0, "order+late-customer", 10)]


def test_buffer_store_is_named_logged_and_shown_in_describe(grace_driver):
    driver, stream, table, _out = grace_driver
    assert "Grace-Buffer" in driver.get_all_state_stores()
    assert "Grace-Buffer" in str(driver.topology.describe())
    table.pipe_input(0, "y", 0)
    stream.pipe_input(0, "x", 5)
    assert "app-Grace-Buffer-changelog" in driver.produced_topic_names()
    assert driver.get_all_state_stores()["Grace-Buffer"].approximate_num_entries() == 1


def test_left_join_with_grace_emits_missing_table_value_as_none():
    builder = StreamsBuilder()
    table = builder.table("t", materialized=Materialized.as_("vt").with_versioned(1000))
    builder.stream("s").left_join(table, lambda a, b: f"{a}+{b}",
                                  Joined.as_("lj").with_grace_period(5)).to("out")
    with TopologyTestDriver(builder.build(), CONFIG) as driver:
        stream, out = driver.create_input_topic("s"), driver.create_output_topic("out")
        stream.pipe_input(1, "a", 0)
        stream.pipe_input(2, "b", 5)
        assert _read(out) == [(1, "a+None", 0)]


def test_fails_if_table_is_not_versioned():
    builder = StreamsBuilder()
    stream = builder.stream("topic")
    table = builder.table("topic2")
    with pytest.raises(TopologyException, match="KTable must be versioned to use a grace "
                                                "period in a stream table join."):
        stream.join(table, lambda a, b: a + b, Joined.as_("first-join").with_grace_period(6))


def test_fails_if_inherited_table_is_not_versioned():
    builder = StreamsBuilder()
    source = builder.table("topic2", materialized=Materialized.as_(
        Stores.in_memory_key_value_store("tableB")))
    with pytest.raises(TopologyException, match="KTable must be versioned"):
        builder.stream("topic").join(source.filter(lambda k, v: True), lambda a, b: a + b,
                                     Joined.as_("first-join").with_grace_period(6))


def test_inherited_versioned_table_is_accepted_and_read_as_of_the_record_time():
    builder = StreamsBuilder()
    source = builder.table("topic2", materialized=Materialized.as_(
        Stores.persistent_versioned_key_value_store("tableB", timedelta(minutes=5))))
    builder.stream("topic").join(source.filter(lambda k, v: True), lambda a, b: a + b,
                                 Joined.as_("first-join").with_grace_period(6)).to("out")
    with TopologyTestDriver(builder.build(), CONFIG) as driver:
        stream, table = driver.create_input_topic("topic"), driver.create_input_topic("topic2")
        out = driver.create_output_topic("out")
        table.pipe_input(1, "old", 0)
        table.pipe_input(1, "new", 100)
        stream.pipe_input(1, "x", 50)
        stream.pipe_input(2, "y", 200)
        assert _read(out) == [(1, "xold", 50)]


@pytest.mark.parametrize("inherited", [False, True])
def test_fails_if_grace_is_longer_than_history_retention(inherited):
    builder = StreamsBuilder()
    table = builder.table("topic2", materialized=Materialized.as_(
        Stores.persistent_versioned_key_value_store("tableB", timedelta(minutes=0 if inherited
                                                                        else 5))))
    if inherited:
        table = table.filter(lambda k, v: True)
    grace = timedelta(milliseconds=6) if inherited else timedelta(minutes=6)
    with pytest.raises(TopologyException, match="History retention must be at least grace "
                                                "period."):
        builder.stream("topic").join(table, lambda a, b: a + b,
                                     Joined.as_("first-join").with_grace_period(grace))


def test_negative_grace_is_rejected():
    with pytest.raises(ValueError, match="grace period must not be negative"):
        Joined.as_("j").with_grace_period(-1)


def test_buffer_restores_the_records_still_waiting(grace_driver):
    """The buffer's changelog (read back through its serdes) rebuilds exactly the records
    that were buffered and not yet joined."""
    from streamnb.dsl._windowed_serde import WindowStoreKeySerde
    from streamnb.runtime.restore import RestoreTarget, _apply
    from streamnb.state.join_window import StreamJoinBuffer

    driver, stream, table, out = grace_driver
    _push(table, 4, "Y", timestamps=False)
    _push(stream, 4, "X")  # X0, X1 joined; X2, X3 wait
    log = driver.create_output_topic("app-Grace-Buffer-changelog",
                                     WindowStoreKeySerde(Serdes.Integer()), Serdes.String())
    restored = StreamJoinBuffer("Grace-Buffer", 2)
    for record in log.read_records_to_list():
        _apply(RestoreTarget(restored, "t", 0, None, None, True), record.key, record.value,
               record.timestamp)
    original = driver.get_all_state_stores()["Grace-Buffer"]
    assert list(restored.all()) == list(original.all()) == [(2, 2, "X2"), (3, 3, "X3")]
    assert [(k, v, t) for k, v, t, _h in restored.evict(10)] == [(2, "X2", 2), (3, "X3", 3)]


def test_buffer_restore_ignores_tombstones_of_records_it_never_saw():
    from streamnb.state.join_window import StreamJoinBuffer

    buffer = StreamJoinBuffer("b", 2)
    buffer._restore((1, 0, 1), None)  # put and eviction fell into one commit: tombstone only
    buffer._restore((2, 5, 2), ("kept", 5))
    buffer._restore((3, 6, 3), ("gone", 6))
    buffer._restore((3, 6, 3), None)
    assert buffer.approximate_num_entries() == 1
    assert list(buffer.all()) == [(2, 5, "kept")]
    assert [(k, v) for k, v, _t, _h in buffer.evict(100)] == [(2, "kept")]
    assert buffer.approximate_num_entries() == 0
