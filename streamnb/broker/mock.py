"""librdkafka's in-process mock cluster: the fallback when noida-db cannot run.

It speaks enough of the Kafka protocol for produce, consume and classic groups, but
transactions commit no consumer offsets, read_committed does not hide aborted records,
only the last few MB per partition are kept and nothing survives the process. The
cluster lives inside a librdkafka handle that this object keeps alive.

We drive it through librdkafka's C API (the library bundled in confluent-kafka) because
that can create topics with a partition count, which its CreateTopics handler cannot
(it has none: admin create_topics times out). If the C API is not reachable, a Producer
with ``test.mock.num.brokers`` runs the cluster instead, and topics can only auto-create
(4 partitions, whatever was asked).
"""

from __future__ import annotations

import ctypes
import threading

import confluent_kafka
from confluent_kafka import Producer

from streamnb.broker._clients import KAFKA_LOG

_V = ctypes.c_void_p
_REGISTRY: dict[str, MockBroker] = {}  # bootstrap -> broker, for topic creation by address
_REGISTRY_LOCK = threading.Lock()

UNAVAILABLE = (
    "exactly_once_v2 transactions commit no consumer offsets (records can be processed "
    "twice after a restart), read_committed consumers still see aborted records, only the "
    "last ~5 MB per partition is kept, topic configs such as cleanup.policy are ignored, "
    "and nothing survives the process"
)


def _librdkafka() -> ctypes.CDLL | None:
    """The librdkafka that confluent-kafka loaded, with the mock API typed; None if absent."""
    try:
        lib = ctypes.CDLL(confluent_kafka.cimpl.__file__)
        lib.rd_kafka_conf_new.restype = _V
        lib.rd_kafka_conf_set.argtypes = [
            _V,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_size_t,
        ]
        lib.rd_kafka_new.restype = _V
        lib.rd_kafka_new.argtypes = [ctypes.c_int, _V, ctypes.c_char_p, ctypes.c_size_t]
        lib.rd_kafka_mock_cluster_new.restype = _V
        lib.rd_kafka_mock_cluster_new.argtypes = [_V, ctypes.c_int]
        lib.rd_kafka_mock_cluster_bootstraps.restype = ctypes.c_char_p
        lib.rd_kafka_mock_cluster_bootstraps.argtypes = [_V]
        lib.rd_kafka_mock_topic_create.restype = ctypes.c_int
        lib.rd_kafka_mock_topic_create.argtypes = [_V, ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
        lib.rd_kafka_mock_cluster_destroy.argtypes = [_V]
        lib.rd_kafka_destroy.argtypes = [_V]
    except (OSError, AttributeError):
        return None
    return lib


class MockBroker:
    """A one-broker librdkafka mock cluster on loopback, alive until ``stop()``."""

    kind = "mock"
    supports_transactions = False  # the calls succeed, but offsets are not committed
    supports_read_committed = False
    data_dir = None

    def __init__(self) -> None:
        self._lib = _librdkafka()
        self._rk = self._cluster = None
        self._producer: Producer | None = None
        if self._lib is not None:
            err = ctypes.create_string_buffer(512)
            conf = self._lib.rd_kafka_conf_new()
            self._lib.rd_kafka_conf_set(conf, b"log_level", b"3", err, 512)
            self._rk = self._lib.rd_kafka_new(0, conf, err, 512)  # 0: RD_KAFKA_PRODUCER
            if self._rk:
                self._cluster = self._lib.rd_kafka_mock_cluster_new(self._rk, 1)
        if self._cluster:
            self.bootstrap_servers = self._lib.rd_kafka_mock_cluster_bootstraps(
                self._cluster
            ).decode()
        else:
            self._producer = Producer({"test.mock.num.brokers": 1, "logger": KAFKA_LOG})
            brokers = self._producer.list_topics(timeout=5).brokers.values()
            self.bootstrap_servers = ",".join(f"{b.host}:{b.port}" for b in brokers)
        self._stopped = False
        with _REGISTRY_LOCK:
            _REGISTRY[self.bootstrap_servers] = self

    def __repr__(self) -> str:
        return f"<MockBroker {self.bootstrap_servers}>"

    @property
    def can_create_topics(self) -> bool:
        """Whether ``create_topic`` honours partition counts (the C API was reachable)."""
        return bool(self._cluster)

    def create_topic(self, name: str, partitions: int) -> bool:
        """Create ``name`` with ``partitions``; False if it cannot (use auto-create then)."""
        if not self._cluster or self._stopped:
            return False
        rc = self._lib.rd_kafka_mock_topic_create(self._cluster, name.encode(), partitions, 1)
        return rc == 0

    def is_alive(self) -> bool:
        return not self._stopped

    def stop(self) -> None:
        """Destroy the cluster; clients still connected see the broker go away."""
        if self._stopped:
            return
        self._stopped = True
        with _REGISTRY_LOCK:
            _REGISTRY.pop(self.bootstrap_servers, None)
        if self._cluster:
            self._lib.rd_kafka_mock_cluster_destroy(self._cluster)
            self._lib.rd_kafka_destroy(self._rk)
            self._cluster = self._rk = None
        self._producer = None


def mock_for(bootstrap: str) -> MockBroker | None:
    """The live in-process mock cluster at ``bootstrap``, if there is one."""
    with _REGISTRY_LOCK:
        return _REGISTRY.get(bootstrap)
