"""The end-to-end level's watcher, on a real broker: it must see the moment the expected
records became visible to read_committed readers (aborted and open transactions do not
count), without reading the topic while the clock runs, and report a partial count when
stopped early."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from confluent_kafka import Producer

from streamnb.broker import ensure_topics
from tests._kafka import noida_broker

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from _broker import VisibleEndWatcher  # noqa: E402

PARTITIONS = 3


@pytest.fixture(scope="module")
def bootstrap():
    with noida_broker() as broker:
        yield broker.bootstrap_servers


def _produce(producer: Producer, topic: str, n: int) -> None:
    for i in range(n):
        producer.produce(topic, key=b"k%d" % i, value=b"v", partition=i % PARTITIONS)
    producer.flush()


def test_done_when_the_last_transaction_commits_not_before(bootstrap: str) -> None:
    topic = "watch-txn"
    ensure_topics(bootstrap, {topic: PARTITIONS})
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": "watch-txn-1"})
    producer.init_transactions()
    watcher = VisibleEndWatcher(bootstrap, topic, PARTITIONS, 300, poll_s=0.01, settle_s=0.3)
    watcher.start()
    producer.begin_transaction()
    _produce(producer, topic, 200)
    producer.commit_transaction()
    producer.begin_transaction()  # aborted: these 500 must never count
    _produce(producer, topic, 500)
    producer.abort_transaction()
    producer.begin_transaction()
    _produce(producer, topic, 100)
    # The records sit in an open transaction, visible to no one: the LSOs stay still long
    # enough for the watcher to read the topic, find 200, and go on watching.
    time.sleep(0.8)
    before_commit = time.perf_counter()
    producer.commit_transaction()
    committed = time.perf_counter()
    watcher.join(30)
    assert not watcher.is_alive()
    assert watcher.done_at is not None
    # That read (a new consumer, ~0.5 s) may delay the next poll: the bound allows it.
    assert before_commit <= watcher.done_at <= committed + 1.0
    assert watcher.seen == 300


def test_stopped_early_reports_what_was_visible(bootstrap: str) -> None:
    topic = "watch-partial"
    ensure_topics(bootstrap, {topic: PARTITIONS})
    producer = Producer({"bootstrap.servers": bootstrap})
    _produce(producer, topic, 120)
    watcher = VisibleEndWatcher(bootstrap, topic, PARTITIONS, 1_000, poll_s=0.01)
    watcher.start()
    time.sleep(0.5)
    watcher.stop()
    watcher.join(30)
    assert watcher.done_at is None
    assert watcher.seen == 120
