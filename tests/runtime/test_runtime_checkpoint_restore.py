"""Persistent stores restore from their checkpoint, as Kafka's do (real broker, noida-db):
a restart on the same state.dir reads only the changelog records after the checkpoint and
ends with the state a full restore gives; a missing, garbled or out-of-range checkpoint
means a full restore; under exactly-once the checkpoint exists only after a clean close."""

from __future__ import annotations

import json
import logging
import shutil
import time

from confluent_kafka import Consumer, Producer, TopicPartition

from streamnb import KafkaStreams, Materialized, StreamsBuilder
from streamnb.broker import ensure_topics
from streamnb.runtime.states import State
from tests._kafka import unique_name, wait_for

KEYS = [f"k{i}" for i in range(20)]


def _app(source: str):
    builder = StreamsBuilder()
    (builder.stream(source).group_by_key()
     .count(materialized=Materialized.as_("counts").with_store_type("persistent")))
    return builder.build()


def _config(broker, app_id, state_dir, guarantee="at_least_once"):
    return {"application.id": app_id, "bootstrap.servers": broker.bootstrap_servers,
            "state.dir": str(state_dir), "default.key.serde": "string",
            "default.value.serde": "string", "commit.interval.ms": 100,
            "processing.guarantee": guarantee,
            "session.timeout.ms": 6000, "heartbeat.interval.ms": 500}


def _produce(broker, topic, rounds):
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
    for _ in range(rounds):
        for key in KEYS:
            producer.produce(topic, b"x", key.encode())
    assert producer.flush(10) == 0


def _run(broker, source, app_id, state_dir, counts, guarantee="at_least_once", close=True):
    """Start the app, wait until every key has count ``counts``; return (its store's
    contents, restore-total, the app, if not closed)."""
    streams = KafkaStreams(_app(source), _config(broker, app_id, state_dir, guarantee))
    streams.start()
    try:
        wait_for(lambda: streams.state() is State.RUNNING, what="RUNNING")

        def done():
            store = streams.store("counts")
            return all(store.get(k) == counts for k in KEYS)
        wait_for(done, what=f"counts of {counts}")
        contents = sorted(streams.store("counts").all())
        restored = streams.metrics()["restore-total"]
    except BaseException:
        streams.close(10)
        raise
    if close:
        assert streams.close(10)
        return contents, restored, None
    return contents, restored, streams


def _changelog_end(broker, app_id):
    consumer = Consumer({"bootstrap.servers": broker.bootstrap_servers, "group.id": "x"})
    try:
        return consumer.get_watermark_offsets(
            TopicPartition(f"{app_id}-counts-changelog", 0), timeout=10)[1]
    finally:
        consumer.close()


def _checkpoint(state_dir, app_id):
    return state_dir / app_id / "0_0" / "counts" / "checkpoint.json"


def _offset(path):
    return json.loads(path.read_text())["offsets"][0]["offset"]


def test_restart_reads_only_the_records_after_the_checkpoint(kafka, tmp_path):
    source, app_id = unique_name("in"), unique_name("ck")
    ensure_topics(kafka.bootstrap_servers, {source: 1})
    state = tmp_path / "state"
    _produce(kafka, source, 3)
    first, restored, _ = _run(kafka, source, app_id, state, 3)
    assert restored == 0
    end = _changelog_end(kafka, app_id)
    assert end >= len(KEYS)
    # the clean close checkpointed the store at the changelog's end
    assert _offset(_checkpoint(state, app_id)) == end

    # Same state.dir: nothing after the checkpoint, nothing restored.
    _produce(kafka, source, 1)
    again, restored, _ = _run(kafka, source, app_id, state, 4)
    assert restored == 0
    assert again == [(k, 4) for k in sorted(KEYS)]

    # A checkpoint 7 records back: exactly those 7 are read again.
    end = _changelog_end(kafka, app_id)
    path = _checkpoint(state, app_id)
    assert _offset(path) == end
    document = json.loads(path.read_text())
    document["offsets"][0]["offset"] = end - 7
    path.write_text(json.dumps(document))
    partial, restored, _ = _run(kafka, source, app_id, state, 4)
    assert restored == 7

    # ... and the state is the one a full restore into an empty state.dir gives.
    full, restored_full, _ = _run(kafka, source, app_id, tmp_path / "fresh", 4)
    assert restored_full == end
    assert partial == full == again


def test_missing_garbled_or_out_of_range_checkpoint_means_a_full_restore(
        kafka, tmp_path, caplog):
    source, app_id = unique_name("in"), unique_name("ck")
    ensure_topics(kafka.bootstrap_servers, {source: 1})
    state = tmp_path / "state"
    _produce(kafka, source, 2)
    expected, _, _ = _run(kafka, source, app_id, state, 2)
    end = _changelog_end(kafka, app_id)
    path = _checkpoint(state, app_id)

    path.write_text("{not json")
    got, restored, _ = _run(kafka, source, app_id, state, 2)
    assert (got, restored) == (expected, end)

    path.unlink()
    got, restored, _ = _run(kafka, source, app_id, state, 2)
    assert (got, restored) == (expected, end)

    document = json.loads(path.read_text())  # the clean close wrote a new one
    document["offsets"][0]["partition"] = 3  # not this task's changelog partition
    path.write_text(json.dumps(document))
    got, restored, _ = _run(kafka, source, app_id, state, 2)
    assert (got, restored) == (expected, end)

    document["offsets"][0]["partition"] = 0
    document["offsets"][0]["offset"] = end + 100  # beyond the changelog's end
    path.write_text(json.dumps(document))
    with caplog.at_level(logging.INFO, logger="streamnb.runtime"):
        got, restored, _ = _run(kafka, source, app_id, state, 2)
    assert (got, restored) == (expected, end)
    assert "out of its range" in caplog.text
    assert "wiping its local data" in caplog.text


def test_exactly_once_checkpoint_only_after_a_clean_close_and_a_crash_restores_fully(
        kafka, tmp_path):
    source, app_id = unique_name("in"), unique_name("ck")
    ensure_topics(kafka.bootstrap_servers, {source: 1})
    state, crashed = tmp_path / "state", tmp_path / "crashed"
    _produce(kafka, source, 2)
    _, _, streams = _run(kafka, source, app_id, state, 2, "exactly_once_v2", close=False)
    try:
        time.sleep(0.5)  # several commits
        path = _checkpoint(state, app_id)
        assert (path.parent / "store.sqlite").is_file()
        assert not path.exists()  # deleted at the start, not written by commits
        shutil.copytree(state, crashed)  # what a crash would leave on disk now
    finally:
        assert streams.close(10)
    assert path.exists()  # the clean close wrote it

    expected, restored, _ = _run(kafka, source, app_id, state, 2, "exactly_once_v2")
    assert restored == 0
    assert not (crashed / app_id / "0_0" / "counts" / "checkpoint.json").exists()
    got, restored, _ = _run(kafka, source, app_id, crashed, 2, "exactly_once_v2")
    full, restored_full, _ = _run(kafka, source, app_id, tmp_path / "fresh", 2,
                                  "exactly_once_v2")
    assert got == full == expected
    assert restored == restored_full >= len(KEYS)  # every committed change, read again
