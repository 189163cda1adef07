"""Topic administration: creation with partitions and configs, clear errors."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from streamnb.broker import (
    BrokerNotAvailableException,
    MissingSourceTopicException,
    describe_partitions,
    ensure_topics,
)
from tests._kafka import unique_name


def test_creates_topics_with_partitions_and_configs(kafka):
    log, changelog = unique_name("src"), unique_name("changelog")
    counts = ensure_topics(
        kafka.bootstrap_servers, {log: 3, changelog: (2, {"cleanup.policy": "compact"})}
    )
    assert counts == {log: 3, changelog: 2}
    admin = AdminClient({"bootstrap.servers": kafka.bootstrap_servers})
    [future] = admin.describe_configs([ConfigResource("topic", changelog)]).values()
    assert future.result(10)["cleanup.policy"].value == "compact"
    assert describe_partitions(kafka.bootstrap_servers, [log, changelog, "absent"]) == counts


def test_existing_topic_keeps_its_partition_count(kafka):
    topic = unique_name()
    ensure_topics(kafka.bootstrap_servers, {topic: 2})
    assert ensure_topics(kafka.bootstrap_servers, {topic: (6, None)}) == {topic: 2}


def test_concurrent_creation_tolerates_already_exists(kafka):
    topic = unique_name()
    with ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(lambda _: ensure_topics(kafka.bootstrap_servers, {topic: 3}), range(4))
        )
    assert results == [{topic: 3}] * 4


def test_missing_topic_is_a_clear_error(kafka):
    topic = unique_name("orders")
    with pytest.raises(MissingSourceTopicException, match=topic) as err:
        ensure_topics(kafka.bootstrap_servers, {topic: 1}, create_missing=False)
    assert "create_topics" in str(err.value)
    assert describe_partitions(kafka.bootstrap_servers, [topic]) == {}  # not auto-created


def test_unreachable_broker_is_a_clear_error():
    started = time.monotonic()
    with pytest.raises(BrokerNotAvailableException, match="127.0.0.1:9") as err:
        describe_partitions("127.0.0.1:9", ["x"], timeout=1)
    assert isinstance(err.value, ConnectionError)
    assert time.monotonic() - started < 5
