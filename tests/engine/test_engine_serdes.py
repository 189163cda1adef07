"""Serdes: byte formats compatible with Kafka's Java serdes, config names, custom pairs, and
where the driver applies them (Consumed / Produced / Grouped / Materialized overrides)."""

import pytest

from streamnb import Materialized, Serde, Serdes, StreamsBuilder, TopologyTestDriver
from streamnb.dsl import Consumed, Grouped, Produced
from streamnb.errors import SerializationException
from streamnb.serde import serde_from_config


@pytest.mark.parametrize("serde, obj, data", [
    (Serdes.String(), "héllo", "héllo".encode()),
    (Serdes.Integer(), -2, b"\xff\xff\xff\xfe"),
    (Serdes.Long(), 1, b"\x00" * 7 + b"\x01"),
    (Serdes.Double(), 1.5, b"\x3f\xf8" + b"\x00" * 6),
    (Serdes.JSON(), {"a": [1, "x", None]}, b'{"a":[1,"x",null]}'),
    (Serdes.Bytes(), b"\x00\x01", b"\x00\x01"),
])
def test_round_trip_and_java_compatible_bytes(serde, obj, data):
    assert serde.serialize("t", obj) == data
    assert serde.deserialize("t", data) == obj
    assert serde.serialize("t", None) is None and serde.deserialize("t", None) is None


@pytest.mark.parametrize("serde, bad", [
    (Serdes.String(), 1), (Serdes.Integer(), "1"), (Serdes.Integer(), 2**31),
    (Serdes.Long(), 1.5), (Serdes.Double(), "x"), (Serdes.JSON(), {1, 2}),
    (Serdes.Bytes(), "str"),
])
def test_unserializable_values_raise_serialization_exception(serde, bad):
    with pytest.raises(SerializationException, match="topic 't'"):
        serde.serialize("t", bad)


def test_config_names_and_custom_pairs():
    assert serde_from_config("string") is Serdes.String()
    assert serde_from_config("org.apache.kafka.common.serialization.Serdes$LongSerde") is (
        Serdes.Long())
    custom = serde_from_config((lambda x: x.encode()[::-1], lambda b: b[::-1].decode()))
    assert custom.serialize("t", "ab") == b"ba" and custom.deserialize("t", b"ba") == "ab"
    assert isinstance(Serdes.serde_from(str.encode, bytes.decode), Serde)
    with pytest.raises(ValueError, match="unknown"):
        serde_from_config("nope")
    with pytest.raises(TypeError):
        serde_from_config(42)


def test_consumed_serdes_check_piped_records():
    builder = StreamsBuilder()
    builder.stream("in", Consumed.with_(Serdes.String(), Serdes.Integer())).to("out")
    with TopologyTestDriver(builder.build()) as driver:
        inp = driver.create_input_topic("in")
        inp.pipe_input("k", 1)
        with pytest.raises(SerializationException, match="'in', partition 0, offset 1"):
            inp.pipe_input("k", "one")


def test_produced_serdes_override_stream_serdes():
    builder = StreamsBuilder()
    (builder.stream("in", Consumed.with_(Serdes.String(), Serdes.String()))
     .map_values(len).to("out", Produced.with_(Serdes.String(), Serdes.Long())))
    with TopologyTestDriver(builder.build()) as driver:
        driver.create_input_topic("in").pipe_input("k", "four")
        assert driver.create_output_topic("out", "string", "long").read_value() == 4


def test_grouped_serdes_apply_to_the_repartition_topic():
    builder = StreamsBuilder()
    (builder.stream("in").group_by(lambda k, v: v, Grouped.with_(Serdes.String(), Serdes.String()))
     .count().to_stream().to("out"))
    with TopologyTestDriver(builder.build()) as driver:
        inp = driver.create_input_topic("in")
        inp.pipe_input("k", "a")
        assert driver.create_output_topic("out").read_key_value() == ("a", 1)
        with pytest.raises(SerializationException, match="repartition"):
            inp.pipe_input("k", 7)  # the new key 7 is not a String


def test_materialized_serdes_apply_to_the_changelog():
    builder = StreamsBuilder()
    builder.stream("in").group_by_key().aggregate(
        lambda: 0, lambda k, v, agg: agg + v,
        materialized=Materialized.as_("sum").with_key_serde("string").with_value_serde("long"))
    with TopologyTestDriver(builder.build(), {"application.id": "app"}) as driver:
        inp = driver.create_input_topic("in")
        inp.pipe_input("k", 2)
        inp.pipe_input("k", 3)
        changelog = driver.create_output_topic("app-sum-changelog", "string", "long")
        assert changelog.read_values_to_list() == [2, 5]
        with pytest.raises(SerializationException, match="sum-changelog"):
            inp.pipe_input("k", 0.5)


def test_default_serdes_from_config():
    builder = StreamsBuilder()
    builder.stream("in").to("out")
    config = {"default.key.serde": "string", "default.value.serde": "double"}
    with TopologyTestDriver(builder.build(), config) as driver:
        driver.create_input_topic("in").pipe_input("k", 2.5)
        assert driver.create_output_topic("out", "string", "double").read_key_value() == ("k", 2.5)
        with pytest.raises(SerializationException):
            driver.create_input_topic("in").pipe_input(1, 2.5)
