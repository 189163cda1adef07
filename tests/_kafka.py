"""Real Kafka-protocol brokers for integration tests (noida-db, see streamnb.broker).

Usage from any test folder::

    from tests._kafka import noida_broker, client_config, consume

    @pytest.fixture(scope="module")
    def kafka():
        with noida_broker() as broker:
            yield broker

Each broker is a fresh noida-db on a free loopback port with its data in a temporary
directory, so tests never see each other's topics or groups.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Message

from streamnb.broker import NoidaBroker, start_noida


@contextmanager
def noida_broker(
    data_dir: str | Path | None = None, *, timeout: float = 10.0
) -> Iterator[NoidaBroker]:
    """A fresh noida-db for the ``with`` block; a temp ``data_dir`` is deleted afterwards."""
    tmp = None if data_dir is not None else tempfile.mkdtemp(prefix="streamnb-kafka-")
    broker = start_noida(data_dir or tmp, timeout=timeout, reuse_running=False)
    try:
        yield broker
    finally:
        broker.stop()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def unique_name(prefix: str = "t") -> str:
    """A topic / group / app id no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def client_config(broker: NoidaBroker | str, **extra: Any) -> dict[str, Any]:
    """Client settings for tests: short session timeout so restarted members rejoin fast."""
    bootstrap = broker if isinstance(broker, str) else broker.bootstrap_servers
    conf: dict[str, Any] = {"bootstrap.servers": bootstrap, "session.timeout.ms": 6000}
    conf.update(extra)
    return conf


def consume(
    broker: NoidaBroker | str,
    topic: str,
    n: int,
    *,
    timeout: float = 10.0,
    isolation: str = "read_uncommitted",
    group: str | None = None,
) -> list[Message]:
    """Read up to ``n`` records of ``topic`` from the beginning (fewer if ``timeout`` ends)."""
    consumer = Consumer(
        client_config(
            broker,
            **{
                "group.id": group or unique_name("g"),
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "isolation.level": isolation,
            },
        )
    )
    consumer.subscribe([topic])
    out: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < n and time.monotonic() < deadline:
            msg = consumer.poll(0.1)
            if msg is not None and msg.error() is None:
                out.append(msg)
    finally:
        consumer.close()
    return out


def wait_for(predicate: Any, timeout: float = 30.0, what: str = "condition") -> None:
    """Poll ``predicate`` every 50 ms until it holds; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
