"""Admin-client plumbing shared by the broker modules.

librdkafka logs every refused connection to stderr; while a broker is coming up, or when
the address is wrong, that is noise in a notebook. The clients here log to Python's
``logging`` (logger ``streamnb.broker.kafka``) instead, and the caller gets one clear
exception.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, ClusterMetadata

from streamnb.broker.errors import BrokerNotAvailableException

KAFKA_LOG = logging.getLogger("streamnb.broker.kafka")


def admin_client(bootstrap: str, client_config: Mapping[str, Any] | None = None) -> AdminClient:
    """An AdminClient for ``bootstrap``; ``client_config`` adds security.protocol, sasl.* etc."""
    conf: dict[str, Any] = {"logger": KAFKA_LOG}
    conf.update(client_config or {})
    conf["bootstrap.servers"] = bootstrap
    return AdminClient(conf)


def cluster_metadata(admin: AdminClient, bootstrap: str, timeout: float) -> ClusterMetadata:
    """All-topics metadata (this never auto-creates a topic), or a clear unreachable error."""
    try:
        return admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        err = exc.args[0]
        why = err.str() if hasattr(err, "str") else str(err)
        raise BrokerNotAvailableException(
            f"no Kafka broker answered at {bootstrap!r} within {timeout:g} s ({why}). "
            "Check bootstrap.servers (host:port, comma-separated), that the broker runs and "
            "that this machine can reach it; leave bootstrap.servers out to use streamnb's "
            "embedded broker."
        ) from None


def port_accepts(host: str, port: int) -> bool:
    """Whether something accepts TCP connections on host:port (fast pre-check)."""
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_for_metadata(bootstrap: str, deadline: float, alive: Any = None) -> None:
    """Poll until the broker answers a metadata request; raise TimeoutError at ``deadline``.

    ``alive`` (a callable) stops the wait early when the broker process has died. The
    TCP pre-check keeps librdkafka's reconnect backoff out of the start-up time.
    """
    host, _, port = bootstrap.rpartition(":")
    while not port_accepts(host, int(port)):
        if alive is not None and not alive():
            raise TimeoutError("the broker process exited")
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {bootstrap}")
        time.sleep(0.005)
    admin = admin_client(bootstrap, {"reconnect.backoff.ms": 10, "reconnect.backoff.max.ms": 50})
    while True:
        try:
            admin.list_topics(timeout=max(0.05, min(0.5, deadline - time.monotonic())))
            return
        except KafkaException as exc:
            if (alive is not None and not alive()) or time.monotonic() > deadline:
                raise TimeoutError(f"no metadata response from {bootstrap}: {exc.args[0]}")
