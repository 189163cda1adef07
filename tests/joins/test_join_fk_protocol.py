# ruff: noqa: E501  (Kafka's describe() lines are longer than our line limit)
"""The foreign-key join as Kafka builds it: two sub-topologies, two internal topics, the
subscription/response records and their byte layouts, and the stale-answer check."""

from __future__ import annotations

import struct

import pytest

from streamnb import Consumed, Materialized, Serdes, StreamsBuilder, TopologyTestDriver
from streamnb.dsl._fk_wrappers import (
    DELETE_KEY_AND_PROPAGATE,
    PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE,
    CombinedKeySerde,
    DefaultKeySerde,
    StoredSubscriptionSerde,
    SubscriptionResponseWrapper,
    SubscriptionResponseWrapperSerde,
    SubscriptionWrapper,
    SubscriptionWrapperSerde,
)
from streamnb.dsl._murmur3 import hash128
from streamnb.dsl.join_options import TableJoined
from streamnb.errors import SerializationException

# KStreamImplTest.shouldSupportForeignKeyTableTableJoinWithKTableFromKStream (literal).
KAFKA_FK_DESCRIBE = """\
Topologies:
   Sub-topology: 0
    Source: KTABLE-SOURCE-0000000016 (topics: [KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic])
      --> KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000017
    Source: KSTREAM-SOURCE-0000000000 (topics: [input1])
      --> KSTREAM-TOTABLE-0000000001
    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000017 (stores: [KSTREAM-TOTABLE-STATE-STORE-0000000002])
      --> KTABLE-FK-JOIN-OUTPUT-0000000018
      <-- KTABLE-SOURCE-0000000016
    Processor: KSTREAM-TOTABLE-0000000001 (stores: [KSTREAM-TOTABLE-STATE-STORE-0000000002])
      --> KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000007
      <-- KSTREAM-SOURCE-0000000000
    Processor: KTABLE-FK-JOIN-OUTPUT-0000000018 (stores: [])
      --> KTABLE-TOSTREAM-0000000020
      <-- KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-RESOLVER-PROCESSOR-0000000017
    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000007 (stores: [])
      --> KTABLE-SINK-0000000008
      <-- KSTREAM-TOTABLE-0000000001
    Processor: KTABLE-TOSTREAM-0000000020 (stores: [])
      --> KSTREAM-SINK-0000000021
      <-- KTABLE-FK-JOIN-OUTPUT-0000000018
    Sink: KSTREAM-SINK-0000000021 (topic: output)
      <-- KTABLE-TOSTREAM-0000000020
    Sink: KTABLE-SINK-0000000008 (topic: KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic)
      <-- KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000007

  Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000003 (topics: [input2])
      --> KSTREAM-TOTABLE-0000000004
    Source: KTABLE-SOURCE-0000000009 (topics: [KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic])
      --> KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000011
    Processor: KSTREAM-TOTABLE-0000000004 (stores: [KSTREAM-TOTABLE-STATE-STORE-0000000005])
      --> KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000013
      <-- KSTREAM-SOURCE-0000000003
    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000011 (stores: [KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000010])
      --> KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000012
      <-- KTABLE-SOURCE-0000000009
    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000012 (stores: [KSTREAM-TOTABLE-STATE-STORE-0000000005])
      --> KTABLE-SINK-0000000015
      <-- KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000011
    Processor: KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000013 (stores: [KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000010])
      --> KTABLE-SINK-0000000015
      <-- KSTREAM-TOTABLE-0000000004
    Sink: KTABLE-SINK-0000000015 (topic: KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic)
      <-- KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000012, KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-0000000013

"""


def _kstream_impl_topology():
    builder = StreamsBuilder()
    strings = Consumed.with_(Serdes.String(), Serdes.String())
    left = builder.stream("input1", strings).to_table()
    right = builder.stream("input2", strings).to_table()
    left.join(right, lambda v: v.split("|")[1], lambda v1, v2: f"({v1},{v2})") \
        .to_stream().to("output")
    return builder.build()


def test_describe_matches_kafka():
    topology = _kstream_impl_topology()
    assert str(topology.describe()) == KAFKA_FK_DESCRIBE
    assert topology.internal_topics == {
        "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic",
        "KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-0000000014-topic"}


def test_kafka_example_results_through_the_internal_topics():
    with TopologyTestDriver(_kstream_impl_topology()) as driver:
        left = driver.create_input_topic("input1")
        right = driver.create_input_topic("input2")
        out = driver.create_output_topic("output")
        for i in (1, 2, 3):
            right.pipe_input(f"rhs{i}", f"rhsValue{i}")
        assert out.read_key_values_to_map() == {}
        left.pipe_input("lhs1", "lhsValue1|rhs1")
        left.pipe_input("lhs2", "lhsValue2|rhs2")
        assert out.read_key_values_to_map() == {"lhs1": "(lhsValue1|rhs1,rhsValue1)",
                                                "lhs2": "(lhsValue2|rhs2,rhsValue2)"}
        left.pipe_input("lhs3", "lhsValue3|rhs1")
        assert out.read_key_values_to_map() == {"lhs3": "(lhsValue3|rhs1,rhsValue1)"}
        left.pipe_input("lhs1", None)
        assert out.read_key_values_to_map() == {"lhs1": None}
        registration = "test-driver-app-KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-0000000006-topic"
        assert registration in driver.produced_topic_names()
        assert ("test-driver-app-KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-0000000010-changelog"
                in driver.produced_topic_names())


@pytest.mark.parametrize("consumed", [None, Consumed.with_(Serdes.Integer(), Serdes.String())])
def test_kafka_scenario_default_serdes_of_another_type_than_values(consumed):
    # KTableKTableForeignKeyJoinScenarioTest: Integer keys, String values, from the config.
    # The left key travels inside the subscription VALUE, yet needs the default KEY serde.
    builder = StreamsBuilder()
    a = builder.table("A", consumed) if consumed else builder.table("A")
    b = builder.table("B")
    fk = a.join(b, lambda v: int(v.split("-")[0]), lambda av, bv: f"({av},{bv})",
                materialized=Materialized.as_("asdf"))
    a.join(fk, lambda av, fv: f"({av},{fv})").to_stream().to("output")
    config = {"default.key.serde": "integer", "default.value.serde": "string"}
    with TopologyTestDriver(builder.build(), config) as driver:
        driver.create_input_topic("A").pipe_input(1, "999-alpha")
        driver.create_input_topic("B").pipe_input(999, "beta")
        out = driver.create_output_topic("output")
        assert out.read_key_values_to_map() == {1: "(999-alpha,(999-alpha,beta))"}


def test_named_join_names_nodes_store_and_topics():
    builder = StreamsBuilder()
    left, right = builder.table("L"), builder.table("R")
    left.join(right, lambda v: v, lambda a, b: a, named=TableJoined.as_("orders"))
    topology = builder.build()
    assert topology.internal_topics == {"orders-subscription-registration-topic",
                                        "orders-subscription-response-topic"}
    text = str(topology.describe())
    for node in ("orders-subscription-registration-processor",
                 "orders-subscription-registration-sink", "orders-subscription-receive",
                 "orders-subscription-join-foreign", "orders-foreign-join-subscription",
                 "orders-subscription-response-sink", "orders-subscription-response-source",
                 "orders-subscription-response-resolver", "orders-result",
                 "stores: [orders-subscription-store]"):
        assert node in text


def test_left_join_with_null_foreign_key_and_foreign_key_removed():
    builder = StreamsBuilder()
    left, right = builder.table("L"), builder.table("R")
    left.left_join(right, lambda v: v.get("fk"), lambda a, b: [a, b]).to_stream().to("out")
    with TopologyTestDriver(builder.build()) as driver:
        lhs, rhs = driver.create_input_topic("L"), driver.create_input_topic("R")
        out = driver.create_output_topic("out")
        lhs.pipe_input("k", {"x": 1}, 1)              # no foreign key: joined with None
        assert out.read_key_values_to_list() == [("k", [{"x": 1}, None])]
        rhs.pipe_input("r", "RV", 2)
        lhs.pipe_input("k", {"fk": "r"}, 3)
        assert out.read_key_values_to_list() == [("k", [{"fk": "r"}, "RV"])]
        lhs.pipe_input("k", {"x": 2}, 4)
        # Kafka answers both the unsubscription from "r" and the null-FK subscription.
        assert out.read_key_values_to_list() == [("k", [{"x": 2}, None])] * 2
        rhs.pipe_input("r", "RV2", 5)                 # "r" has no subscriber left
        assert out.read_key_values_to_list() == []


def test_inner_join_drops_a_null_foreign_key_and_counts_it():
    builder = StreamsBuilder()
    left, right = builder.table("L"), builder.table("R")
    left.join(right, lambda v: v.get("fk"), lambda a, b: b).to_stream().to("out")
    with TopologyTestDriver(builder.build()) as driver:
        driver.create_input_topic("L").pipe_input("k", {"x": 1})
        assert driver.create_output_topic("out").read_key_values_to_list() == []
        assert driver.metrics()["dropped-records"] == {"null foreign key": 1}


def test_stale_response_is_dropped():
    builder = StreamsBuilder()
    left = builder.table("L", Consumed.with_(Serdes.String(), Serdes.String()))
    right = builder.table("R", Consumed.with_(Serdes.String(), Serdes.String()))
    left.join(right, lambda v: v.split("|")[1], lambda a, b: f"{a}+{b}") \
        .to_stream().to("out")
    topology = builder.build()
    (response,) = [t for t in topology.internal_topics if "RESPONSE" in t]
    with TopologyTestDriver(topology) as driver:
        lhs, rhs = driver.create_input_topic("L"), driver.create_input_topic("R")
        out = driver.create_output_topic("out")
        rhs.pipe_input("r1", "one", 1)
        lhs.pipe_input("a", "A|r1", 2)
        lhs.pipe_input("a", "B|r1", 3)
        assert out.read_key_values_to_list() == [("a", "A|r1+one"), ("a", "B|r1+one")]
        answers = driver.create_input_topic(
            f"test-driver-app-{response}", Serdes.String(),
            SubscriptionResponseWrapperSerde(Serdes.String()))
        answers.pipe_input("a", SubscriptionResponseWrapper(hash128(b"A|r1"), "old", None), 4)
        assert out.read_key_values_to_list() == []   # answers the previous value: dropped
        answers.pipe_input("a", SubscriptionResponseWrapper(hash128(b"B|r1"), "new", None), 5)
        assert out.read_key_values_to_list() == [("a", "B|r1+new")]


# -- record layouts ------------------------------------------------------------------------
def test_murmur3_matches_kafkas_test_vectors():
    # Murmur3Test.testMurmur3_128 (seed 123).
    cases = {b"21": (5857341059704281894, -5288187638297930763),
             b"foobar": (-351361463397418609, 8959716011862540668),
             b"a-little-bit-long-string": (8836256500583638442, -198172363548498523),
             b"a-little-bit-longer-string": (1838346159335108511, 8794688210320490705),
             b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8":
                 (-4024021876037397259, -1482317706335141238),
             b"abc": (1489494923063836066, -5440978547625122829)}
    for data, halves in cases.items():
        assert struct.unpack(">qq", hash128(data, 123)) == halves


def test_subscription_wrapper_layout_and_round_trip():
    serde = SubscriptionWrapperSerde(Serdes.String(), DefaultKeySerde())
    digest = hash128(b"value")
    wrapper = SubscriptionWrapper(digest, PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE, "pk", 2)
    data = serde.serialize("t", wrapper)
    assert data == bytes((1, 3)) + digest + b"pk" + struct.pack(">i", 2)
    assert serde.deserialize("t", data) == wrapper
    deleted = SubscriptionWrapper(None, DELETE_KEY_AND_PROPAGATE, "pk", 0)
    data = serde.serialize("t", deleted)
    assert data == bytes((0x81, 1)) + b"pk" + struct.pack(">i", 0)
    assert serde.deserialize("t", data) == deleted
    with pytest.raises(SerializationException, match="version 5"):
        serde.deserialize("t", bytes((5, 1)) + b"pk" + struct.pack(">i", 0))
    with pytest.raises(SerializationException, match="only the foreign-key join"):
        serde.serialize("t", "not a wrapper")


def test_subscription_wrapper_uses_the_default_key_serde_from_config():
    default = DefaultKeySerde({"default.key.serde": "integer"})
    serde = SubscriptionWrapperSerde(None, default)
    data = serde.serialize("t", SubscriptionWrapper(None, 0, 7, 1))
    assert data[2:6] == struct.pack(">i", 7)
    assert serde.deserialize("t", data).primary_key == 7


def test_response_wrapper_layout_and_round_trip():
    serde = SubscriptionResponseWrapperSerde().resolve(Serdes.String())
    digest = hash128(b"v")
    response = SubscriptionResponseWrapper(digest, "right", 1)
    data = serde.serialize("t", response)
    assert data == b"\x00" + digest + b"right"  # the partition only routes; not written
    back = serde.deserialize("t", data)
    assert (back.hash, back.foreign_value, back.primary_partition) == (digest, "right", None)
    missing = serde.serialize("t", SubscriptionResponseWrapper(None, None, 0))
    assert missing == b"\x80"
    assert serde.deserialize("t", missing).foreign_value is None


def test_subscription_store_records_round_trip():
    keys = CombinedKeySerde().resolve(Serdes.String())
    data = keys.serialize("t", ("fk", "pk"))
    assert data == struct.pack(">i", 2) + b"fkpk"
    assert keys.deserialize("t", data) == ("fk", "pk")
    values = StoredSubscriptionSerde()
    stored = SubscriptionWrapper(hash128(b"x"), 2, None, 4)
    assert values.deserialize("t", values.serialize("t", stored)) == stored


def test_subscription_store_follows_foreign_key_changes():
    builder = StreamsBuilder()
    left, right = builder.table("L"), builder.table("R")
    left.join(right, lambda v: v.split("|")[1], lambda a, b: b).to_stream().to("out")
    topology = builder.build()
    (name,) = [s for s in topology.stores if s.startswith("KTABLE-FK-JOIN-SUBSCRIPTION-")]
    with TopologyTestDriver(topology) as driver:
        lhs = driver.create_input_topic("L")
        lhs.pipe_input("k", "x|r1", 1)
        lhs.pipe_input("j", "y|r1", 2)
        lhs.pipe_input("k", "x|r2", 3)
        lhs.pipe_input("j", None, 4)
        store = driver.get_timestamped_key_value_store(name)
        assert [kv.key for kv in store.all()] == [("r2", "k")]
        stored = store.get(("r2", "k"))
        assert stored.timestamp == 3
        assert stored.value.hash == hash128(b'"x|r2"')  # the JSON bytes of the left value
        assert stored.value.primary_partition == 0
