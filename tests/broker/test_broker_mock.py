"""The mock-cluster fallback: it works, and says what it cannot do."""

from __future__ import annotations

import pytest
from confluent_kafka import Producer

from streamnb.broker import (
    EmbeddedBrokerException,
    MockBroker,
    embedded_broker,
    ensure_topics,
    noida,
)
from streamnb.broker.embedded import ENV_VAR
from tests._kafka import consume, unique_name


def no_binary():
    raise EmbeddedBrokerException("noida-db has no server binary for this platform (test)")


def test_forced_mock_warns_and_works(fresh_embedded, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "mock")
    with pytest.warns(RuntimeWarning, match="read_committed consumers still see aborted"):
        broker = embedded_broker(fresh_embedded)
    assert broker.kind == "mock"
    assert not broker.supports_transactions and not broker.supports_read_committed
    topic = unique_name()
    assert ensure_topics(broker.bootstrap_servers, {topic: 3}) == {topic: 3}
    p = Producer({"bootstrap.servers": broker.bootstrap_servers})
    p.produce(topic, b"v", key=b"k", partition=2)
    assert p.flush(10) == 0
    [msg] = consume(broker.bootstrap_servers, topic, 1)
    assert (msg.partition(), msg.value()) == (2, b"v")


def test_falls_back_to_mock_when_noida_cannot_start(fresh_embedded, monkeypatch):
    monkeypatch.setattr(noida, "noida_binary", no_binary)
    with pytest.warns(RuntimeWarning, match="noida-db could not start.*no server binary"):
        broker = embedded_broker(fresh_embedded)
    assert isinstance(broker, MockBroker)


def test_forced_noida_does_not_fall_back(fresh_embedded, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "noida")
    monkeypatch.setattr(noida, "noida_binary", no_binary)
    with pytest.raises(EmbeddedBrokerException, match="no server binary"):
        embedded_broker(fresh_embedded)


def test_bad_env_value_is_rejected(fresh_embedded, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "kafka")
    with pytest.raises(EmbeddedBrokerException, match="'noida' or 'mock'"):
        embedded_broker(fresh_embedded)


def test_foreign_mock_auto_creates_with_a_warning():
    broker = MockBroker()
    try:
        from streamnb.broker import mock

        mock._REGISTRY.pop(broker.bootstrap_servers)  # as if another process ran it
        topic = unique_name()
        with pytest.warns(RuntimeWarning, match="does not support CreateTopics"):
            counts = ensure_topics(broker.bootstrap_servers, {topic: 2}, timeout=1)
        assert counts == {topic: 4}  # the mock's default, not what was asked
    finally:
        broker.stop()
