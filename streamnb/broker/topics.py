"""Topic administration the runtime needs: create what is missing, learn partition counts.

Kafka Streams creates its internal topics (changelogs with ``cleanup.policy=compact``,
repartition topics) and refuses to start when a source topic is missing on a real
cluster; these helpers give the runtime both behaviours with clear errors.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import NewTopic

from streamnb.broker._clients import admin_client, cluster_metadata
from streamnb.broker.errors import MissingSourceTopicException
from streamnb.broker.mock import mock_for
from streamnb.errors import StreamsException

TopicSpec = tuple[int, Mapping[str, str] | None]


def describe_partitions(
    bootstrap: str,
    topics: Iterable[str],
    *,
    client_config: Mapping[str, Any] | None = None,
    timeout: float = 10.0,
) -> dict[str, int]:
    """Partition count of each existing topic in ``topics``; missing topics are left out.

    Uses an all-topics metadata request, which never auto-creates a topic.
    """
    admin = admin_client(bootstrap, client_config)
    return _partition_counts(cluster_metadata(admin, bootstrap, timeout), topics)


def ensure_topics(
    bootstrap: str,
    topics: Mapping[str, TopicSpec | int],
    create_missing: bool = True,
    *,
    client_config: Mapping[str, Any] | None = None,
    replication_factor: int = -1,
    timeout: float = 10.0,
) -> dict[str, int]:
    """Make sure ``topics`` ({name: (partitions, config) or partitions}) exist.

    Returns the actual partition count of every topic: a topic that already existed keeps
    its own count, which may differ from the one asked for (the caller decides whether
    that matters). ``replication_factor=-1`` means the broker's default. Missing topics
    raise MissingSourceTopicException when ``create_missing`` is False.

    On librdkafka's mock cluster topics get the partitions asked for but not the
    configs; a mock cluster of another process can only auto-create (4 partitions).
    """
    specs = {name: (spec, None) if isinstance(spec, int) else spec for name, spec in topics.items()}
    admin = admin_client(bootstrap, client_config)
    counts = _partition_counts(cluster_metadata(admin, bootstrap, timeout), specs)
    missing = [t for t in specs if t not in counts]
    if not missing:
        return counts
    if not create_missing:
        names = ", ".join(repr(t) for t in missing)
        raise MissingSourceTopicException(
            f"topic(s) {names} do not exist on {bootstrap}. Create them before starting the "
            f"app (e.g. AdminClient.create_topics([NewTopic({missing[0]!r}, "
            f"num_partitions=1)]) or kafka-topics.sh --create --topic {missing[0]}), "
            f"or check the topic name."
        )
    mock = mock_for(bootstrap)
    if mock is not None and mock.can_create_topics:
        for t in missing:
            if not mock.create_topic(t, specs[t][0]):
                raise StreamsException(f"the mock cluster at {bootstrap} refused topic {t!r}")
    else:
        unsupported = _create(admin, bootstrap, missing, specs, replication_factor, timeout)
        if unsupported:
            _auto_create(admin, bootstrap, unsupported, specs, timeout)
    return _await_topics(admin, bootstrap, specs, timeout)


def _create(
    admin: Any,
    bootstrap: str,
    missing: list[str],
    specs: Mapping[str, TopicSpec],
    replication_factor: int,
    timeout: float,
) -> list[str]:
    """CreateTopics; returns the topics whose creation timed out (broker lacks the API)."""
    new = [
        NewTopic(
            t,
            num_partitions=specs[t][0],
            replication_factor=replication_factor,
            config=dict(specs[t][1] or {}),
        )
        for t in missing
    ]
    futures = admin.create_topics(new, operation_timeout=timeout, request_timeout=timeout)
    timed_out = []
    for topic, future in futures.items():
        try:
            future.result(timeout + 1)
        except KafkaException as exc:
            err: KafkaError = exc.args[0]
            if err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue  # another client won the race: fine
            if err.code() == KafkaError._TIMED_OUT:
                timed_out.append(topic)
                continue
            raise StreamsException(
                f"cannot create topic {topic!r} on {bootstrap}: {err.str()}"
            ) from None
    return timed_out


def _auto_create(
    admin: Any, bootstrap: str, topics: list[str], specs: Mapping[str, TopicSpec], timeout: float
) -> None:
    """Fall back to a metadata request that auto-creates (brokers without CreateTopics)."""
    for t in topics:
        try:
            admin.list_topics(topic=t, timeout=timeout)
        except KafkaException as exc:
            raise StreamsException(f"cannot create topic {t!r} on {bootstrap}: {exc}") from None
    warnings.warn(
        f"the broker at {bootstrap} does not support CreateTopics (librdkafka's mock "
        f"cluster?); topics {topics} were auto-created with the broker's default partition "
        f"count and configs instead of the ones asked for",
        RuntimeWarning,
        stacklevel=3,
    )


def _await_topics(
    admin: Any, bootstrap: str, specs: Mapping[str, TopicSpec], timeout: float
) -> dict[str, int]:
    """Wait until metadata shows every topic (creation propagates asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        counts = _partition_counts(cluster_metadata(admin, bootstrap, timeout), specs)
        if len(counts) == len(specs) or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    if len(counts) < len(specs):
        absent = sorted(set(specs) - set(counts))
        raise StreamsException(f"topics {absent} still absent on {bootstrap} after creation")
    return counts


def _partition_counts(metadata: Any, topics: Iterable[str]) -> dict[str, int]:
    counts = {}
    for t in topics:
        tm = metadata.topics.get(t)
        if tm is not None and tm.error is None and tm.partitions:
            counts[t] = len(tm.partitions)
    return counts
