"""StreamsConfig: Kafka's key names, defaults, validation with helpful errors."""

from __future__ import annotations

import pytest

from streamnb import Serdes, StreamsBuilder
from streamnb.runtime import ConfigException, KafkaStreams, StreamsConfig


def test_defaults_follow_kafka():
    config = StreamsConfig({"application.id": "app"})
    assert config["processing.guarantee"] == "at_least_once"
    assert config["commit.interval.ms"] == 30_000
    assert config["num.stream.threads"] == 1
    assert config["default.deserialization.exception.handler"] == "logAndFail"
    eos = StreamsConfig({"application.id": "app", "processing.guarantee": "exactly_once_v2"})
    assert eos.exactly_once and eos["commit.interval.ms"] == 100


def test_unknown_key_names_the_closest_valid_key():
    with pytest.raises(ConfigException, match="'commit.interval.ms'"):
        StreamsConfig({"application.id": "app", "commit.intervall.ms": 100})
    with pytest.raises(ConfigException, match="'num.stream.threads'"):
        StreamsConfig({"application.id": "app", "num.streams.threads": 2})


def test_unknown_key_fails_at_kafka_streams_construction():
    builder = StreamsBuilder()
    builder.stream("a").to("b")
    with pytest.raises(ConfigException, match="Did you mean 'state.dir'"):
        KafkaStreams(builder.build(), {"application.id": "x", "state.dirr": "/tmp/x",
                                       "bootstrap.servers": "127.0.0.1:1"})


def test_application_id_is_required_and_checked():
    with pytest.raises(ConfigException, match="application.id is required"):
        StreamsConfig({})
    with pytest.raises(ConfigException, match="may only contain"):
        StreamsConfig({"application.id": "word count"})


def test_java_serde_class_names_are_accepted():
    config = StreamsConfig({
        "application.id": "app",
        "default.key.serde": "org.apache.kafka.common.serialization.Serdes$StringSerde",
        "default.value.serde": "org.apache.kafka.common.serialization.Serdes$LongSerde",
    })
    assert config.default_key_serde is Serdes.String()
    assert config.default_value_serde is Serdes.Long()


def test_handlers_accept_kafka_class_names():
    config = StreamsConfig({
        "application.id": "app",
        "default.deserialization.exception.handler":
            "org.apache.kafka.streams.errors.LogAndContinueExceptionHandler",
    })
    assert config["default.deserialization.exception.handler"] == "logAndContinue"
    with pytest.raises(ConfigException, match="not a known handler"):
        StreamsConfig({"application.id": "a",
                       "default.deserialization.exception.handler": "ignore"})


def test_bad_values_are_rejected():
    with pytest.raises(ConfigException, match="processing.guarantee"):
        StreamsConfig({"application.id": "a", "processing.guarantee": "exactly_twice"})
    with pytest.raises(ConfigException, match="num.stream.threads must be at least 1"):
        StreamsConfig({"application.id": "a", "num.stream.threads": 0})
    with pytest.raises(ConfigException, match="default.key.serde"):
        StreamsConfig({"application.id": "a", "default.key.serde": "protobuf"})


def test_client_settings_pass_through_to_the_right_clients():
    config = StreamsConfig({
        "application.id": "app",
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "ssl.ca.location": "/etc/ca.pem",
        "session.timeout.ms": 6000,
        "linger.ms": 20,
        "producer.compression.type": "lz4",
        "main.consumer.fetch.min.bytes": 10,
    })
    consumer = config.consumer_config("main")
    producer = config.producer_config()
    admin = config.admin_config()
    for conf in (consumer, producer, admin):
        assert conf["security.protocol"] == "SASL_SSL"
        assert conf["sasl.mechanism"] == "PLAIN"
        assert conf["ssl.ca.location"] == "/etc/ca.pem"
    assert consumer["session.timeout.ms"] == 6000 and "session.timeout.ms" not in producer
    assert producer["linger.ms"] == 20 and "linger.ms" not in consumer
    assert producer["compression.type"] == "lz4"
    assert consumer["fetch.min.bytes"] == 10
    assert "fetch.min.bytes" not in config.consumer_config("restore")
