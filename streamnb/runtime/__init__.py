"""The runtime: run a topology for real, on background threads against Kafka.

``KafkaStreams(topology, config).start()`` joins the app's consumer group, builds engine
tasks for the partitions it gets, and processes records until ``close()``.
"""

from .config import ConfigException, StreamsConfig
from .kafka_streams import IllegalStateException, KafkaStreams
from .states import State, StreamThreadExceptionResponse

__all__ = [
    "ConfigException",
    "IllegalStateException",
    "KafkaStreams",
    "State",
    "StreamThreadExceptionResponse",
    "StreamsConfig",
]
