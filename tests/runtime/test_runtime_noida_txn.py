"""What noida-db 0.2.3 does with transactions, shown with confluent-kafka alone: the facts
behind streamnb/runtime/fencing.py (fence the old transactional.id, then work under a
fresh one). If ``test_noida_drops_later_records_of_an_aborted_producer_id`` starts failing,
noida-db fixed that bug and the fresh ids are no longer needed there."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, Producer

from streamnb.broker import ensure_topics
from streamnb.runtime.fencing import TransactionalIds
from tests._kafka import unique_name


def _reader(kafka, topic):
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap_servers,
                         "group.id": unique_name("g"), "isolation.level": "read_committed",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    return consumer


def _drain(consumer, seconds, expect=None):
    """Values read in ``seconds`` (or as soon as ``expect`` many arrived, plus a little)."""
    out = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        out += [m.value() for m in consumer.consume(100, 0.1) if m.error() is None]
        if expect is not None and len(out) >= expect:
            out += [m.value() for m in consumer.consume(100, 0.2) if m.error() is None]
            break
    return out


def _open_transaction(kafka, topic, transactional_id):
    """A producer that commits ``b"c"`` then leaves a transaction open (as a crash does)."""
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers,
                         "transactional.id": transactional_id})
    producer.init_transactions(10)
    producer.begin_transaction()
    producer.produce(topic, b"c", partition=0)
    producer.commit_transaction(10)
    producer.begin_transaction()
    producer.produce(topic, b"open", partition=0)
    producer.flush(10)
    return producer


def _commit(producer, topic, values):
    for value in values:
        producer.begin_transaction()
        producer.produce(topic, value, partition=0)
        producer.commit_transaction(10)


def test_read_committed_waits_at_an_open_transaction_until_it_is_fenced(kafka):
    topic, tid = unique_name("t"), unique_name("tid")
    ensure_topics(kafka.bootstrap_servers, {topic: 1})
    _open_transaction(kafka, topic, tid)  # never ended: kept open like a killed producer's
    other = Producer({"bootstrap.servers": kafka.bootstrap_servers,
                      "transactional.id": unique_name("tid")})
    other.init_transactions(10)
    _commit(other, topic, [b"later"])
    reader = _reader(kafka, topic)
    try:
        assert _drain(reader, 5.0, 1) == [b"c"]  # the last stable offset stops at "open"
        fencer = Producer({"bootstrap.servers": kafka.bootstrap_servers, "transactional.id": tid})
        fencer.init_transactions(10)  # same transactional.id: aborts the open transaction
        assert _drain(reader, 5.0, 1) == [b"later"]
    finally:
        reader.close()


def test_noida_drops_later_records_of_an_aborted_producer_id(kafka):
    """A reader that waited at the open transaction fetches from past its abort marker;
    noida-db still lists the aborted transaction in those fetch responses, so librdkafka
    skips every later batch of that producer id (fencing keeps the id). Apache Kafka lists
    only aborted transactions that reach into the fetched range."""
    topic, tid = unique_name("t"), unique_name("tid")
    ensure_topics(kafka.bootstrap_servers, {topic: 1})
    producer = _open_transaction(kafka, topic, tid)
    reader = _reader(kafka, topic)
    try:
        assert _drain(reader, 5.0, 1) == [b"c"]
        producer.abort_transaction(10)
        _commit(producer, topic, [b"a0", b"a1"])
        assert _drain(reader, 1.0) == []  # committed records, silently dropped
    finally:
        reader.close()
    late = _reader(kafka, topic)  # one fetch covering the abort marker reads them fine
    try:
        assert _drain(late, 5.0, 3) == [b"c", b"a0", b"a1"]
    finally:
        late.close()


def test_a_fresh_transactional_id_after_the_fence_is_read(kafka):
    topic, tid = unique_name("t"), unique_name("tid")
    ensure_topics(kafka.bootstrap_servers, {topic: 1})
    _open_transaction(kafka, topic, tid)
    reader = _reader(kafka, topic)
    try:
        assert _drain(reader, 5.0, 1) == [b"c"]
        Producer({"bootstrap.servers": kafka.bootstrap_servers,
                  "transactional.id": tid}).init_transactions(10)
        fresh = Producer({"bootstrap.servers": kafka.bootstrap_servers,
                          "transactional.id": tid + "-2"})
        fresh.init_transactions(10)
        _commit(fresh, topic, [b"f0", b"f1"])
        assert _drain(reader, 5.0, 2) == [b"f0", b"f1"]
    finally:
        reader.close()


def test_transactional_ids_fence_only_what_a_crash_left(kafka, tmp_path):
    conf = {"bootstrap.servers": kafka.bootstrap_servers}
    ids = TransactionalIds(tmp_path, "app-p", 1)
    assert ids.fence_previous(conf, 10) is None  # first start: nothing to fence
    first = ids.next_id()
    assert first == "app-p-1-1"
    assert ids.fence_previous(conf, 10) == first  # no clean end recorded: a crash
    second = ids.next_id()
    assert second == "app-p-1-2"
    ids.mark_clean(first)  # a stale id does not mark the current one
    assert ids.fence_previous(conf, 10) == second
    ids.mark_clean(second)
    assert ids.fence_previous(conf, 10) is None
    assert TransactionalIds(tmp_path, "app-p", 2).next_id() == "app-p-2-1"  # per thread
