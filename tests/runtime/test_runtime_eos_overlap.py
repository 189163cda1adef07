"""Exactly-once commits overlap the next batch, and nothing is produced into them.

The stream loop hands a commit's broker round trips (offsets into the transaction, commit)
to a helper thread and goes on fetching and processing; the first record that is about to
be produced waits for that commit and opens the next transaction. These tests check that
order on a recording producer, and exactly-once output on a real broker with slow commits.
"""

from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka import TopicPartition

from streamnb import KafkaStreams
from streamnb.broker import ensure_topics
from streamnb.runtime import State, stream_thread
from streamnb.runtime.config import StreamsConfig
from streamnb.runtime.metrics import ThreadMetrics
from streamnb.runtime.record_collector import RecordCollector
from streamnb.runtime.stream_thread import StreamThread, _Input
from tests._kafka import unique_name
from tests.runtime.test_runtime_noida import config, produce, updates, wait_for, wordcount


class _RecordingProducer:
    """Records transactional calls and produces; the commit blocks until released."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.release = threading.Event()
        self.committing = threading.Event()

    def begin_transaction(self) -> None:
        self.calls.append("begin")

    def send_offsets_to_transaction(self, offsets, metadata, timeout) -> None:
        self.calls.append(f"offsets {[(tp.topic, tp.offset) for tp in offsets]}")

    def commit_transaction(self, timeout) -> None:
        self.committing.set()
        assert self.release.wait(10), "the test never released the commit"
        self.calls.append("commit")

    def produce(self, topic, value=None, key=None, partition=-1, on_delivery=None,
                callback=None, timestamp=0, headers=None) -> None:
        self.calls.append(f"produce {key!r}")

    def poll(self, timeout=0) -> int:
        return 0


class _Task:
    commit_requested = False

    def commit(self) -> None:
        pass


def _thread(producer: _RecordingProducer) -> tuple[StreamThread, RecordCollector, _Input]:
    """A bare exactly-once stream thread around the recording producer (no broker)."""
    conf = StreamsConfig({"application.id": "overlap", "bootstrap.servers": "unused:9092",
                          "processing.guarantee": "exactly_once_v2",
                          "default.key.serde": "string", "default.value.serde": "string"})
    thread = StreamThread.__new__(StreamThread)
    threading.Thread.__init__(thread, name="overlap-StreamThread-1")
    thread.lock = threading.RLock()
    thread.metrics = ThreadMetrics("t")
    thread._eos = True
    thread._in_txn = False
    thread.tasks = {"0_0": _Task()}
    inp = _Input("in", 0, _Task(), None, None, None)
    thread._inputs = {("in", 0): inp}
    collector = RecordCollector(conf, lambda topic: 1, thread.metrics)
    collector.bind(producer)  # type: ignore[arg-type]
    collector.before_produce = thread._open_txn
    thread.collector = collector
    thread._producer = producer
    thread._consumer = type("C", (), {"consumer_group_metadata": lambda self: "meta"})()
    return thread, collector, inp


def test_records_of_the_next_batch_wait_for_the_commit_in_flight():
    producer = _RecordingProducer()
    thread, collector, inp = _thread(producer)
    sink = collector.sink_inline("out", None, None, None, "sink")
    assert sink is not None
    append = sink[0]
    append(("a", "1", 0, None))  # first batch
    collector.drain()
    inp.offset = 9
    thread._async_commit = True
    thread.commit()  # returns with the round trips in flight
    assert producer.committing.wait(5)
    assert thread._committing is not None and inp.committed == -1
    append(("b", "2", 0, None))  # next batch, processed while the commit runs
    assert producer.calls == ["begin", "produce b'a'", "offsets [('in', 10)]"]

    threading.Timer(0.2, producer.release.set).start()
    started = time.monotonic()
    collector.drain()  # must wait for the commit, then open the next transaction
    assert time.monotonic() - started >= 0.15
    assert producer.calls == ["begin", "produce b'a'", "offsets [('in', 10)]", "commit",
                              "begin", "produce b'b'"]
    assert thread._committing is None and thread._in_txn
    assert inp.committed == 10 and thread.metrics.commit_total == 1


def test_a_failed_background_commit_raises_on_the_stream_thread_and_stays_open():
    producer = _RecordingProducer()
    thread, collector, inp = _thread(producer)

    def fail(timeout) -> None:
        raise RuntimeError("commit failed (injected)")

    producer.commit_transaction = fail  # type: ignore[method-assign]
    collector.send("out", "a", "1", 0, None, None, None, None, "sink")
    inp.offset = 3
    thread._async_commit = True
    thread.commit()
    with pytest.raises(RuntimeError, match="injected"):
        collector.send("out", "b", "2", 0, None, None, None, None, "sink")
    # The transaction is still marked open, for the abort that follows; nothing was
    # produced after the failed commit and the offsets count as not committed.
    assert thread._in_txn and inp.committed == -1
    assert producer.calls == ["begin", "produce b'a'", "offsets [('in', 4)]"]


def test_inline_commit_when_not_called_from_the_loop():
    producer = _RecordingProducer()
    producer.release.set()
    thread, collector, inp = _thread(producer)
    collector.send("out", "a", "1", 0, None, None, None, None, "sink")
    inp.offset = 0
    thread.commit()  # revoke and shutdown: done when it returns
    assert thread._committing is None and not thread._in_txn and inp.committed == 1
    assert producer.calls[-1] == "commit"
    assert [TopicPartition("in", 0, 1)] == [TopicPartition(t, p, i.committed)
                                            for (t, p), i in thread._inputs.items()]


def test_slow_overlapped_commits_keep_the_output_exactly_once(kafka, tmp_path, monkeypatch):
    """Every commit takes 150 ms in the background while lines keep arriving: each count
    update is read (read_committed) exactly once, in order per word."""
    real = stream_thread._commit_transaction
    commits: list[float] = []

    def slow_commit(producer, offsets, group_metadata) -> None:
        time.sleep(0.15)
        real(producer, offsets, group_metadata)
        commits.append(time.monotonic())

    monkeypatch.setattr(stream_thread, "_commit_transaction", slow_commit)
    source, sink = unique_name("in"), unique_name("out")
    ensure_topics(kafka.bootstrap_servers, {source: 2, sink: 2})
    streams = KafkaStreams(wordcount(source, sink), config(
        kafka, unique_name("overlap"), tmp_path,
        **{"processing.guarantee": "exactly_once_v2", "commit.interval.ms": 20}))
    streams.start()
    try:
        wait_for(lambda: streams.state() is State.RUNNING, what="RUNNING")
        lines = [f"w{i % 7} w{i % 3}" for i in range(300)]
        for start in range(0, len(lines), 30):  # arrivals spread over several commits
            produce(kafka, source, lines[start:start + 30])
            time.sleep(0.05)
        got = updates(kafka, sink, 600, timeout=30)
        wait_for(lambda: len(commits) >= 5, what="several background commits")
    finally:
        assert streams.close(10)
    per_word: dict[str, list[int]] = {}
    for word, count in got:
        per_word.setdefault(word, []).append(int(count))
    expected: dict[str, int] = {}
    for line in lines:
        for word in line.split():
            expected[word] = expected.get(word, 0) + 1
    assert len(got) == 600
    assert {w: counts for w, counts in per_word.items()} == {
        w: list(range(1, n + 1)) for w, n in expected.items()}
