"""Kafka brokers for streamnb: the embedded default and topic administration.

An app without ``bootstrap.servers`` runs on ``embedded_broker()``, one per process.
Everything else only needs a bootstrap address, so it works the same on a real cluster.
"""

from streamnb.broker.base import Broker
from streamnb.broker.embedded import default_state_dir, embedded_broker, stop_embedded_broker
from streamnb.broker.errors import (
    BrokerNotAvailableException,
    EmbeddedBrokerException,
    MissingSourceTopicException,
)
from streamnb.broker.mock import MockBroker
from streamnb.broker.noida import NoidaBroker, start_noida
from streamnb.broker.topics import describe_partitions, ensure_topics

__all__ = [
    "Broker",
    "BrokerNotAvailableException",
    "EmbeddedBrokerException",
    "MissingSourceTopicException",
    "MockBroker",
    "NoidaBroker",
    "default_state_dir",
    "describe_partitions",
    "embedded_broker",
    "ensure_topics",
    "start_noida",
    "stop_embedded_broker",
]
