"""Several app processes on one application.id: sharing partitions, taking over after a
SIGKILL, and the processing guarantees across a crash mid-stream."""

from __future__ import annotations

import os
import random
import signal
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from streamnb.broker import ensure_topics
from tests._kafka import consume, unique_name, wait_for
from tests.runtime.runtime_group_admin import remove_static_members

APP = Path(__file__).with_name("runtime_app.py")
ROOT = Path(__file__).resolve().parents[2]


class AppProcess:
    """A runtime_app.py child; its stdout lines are collected by a reader thread."""

    def __init__(self, broker, app_id, state_dir, guarantee, source, sink):
        self.proc = subprocess.Popen(
            [sys.executable, str(APP), broker.bootstrap_servers, app_id, str(state_dir),
             guarantee, source, sink],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, cwd=ROOT)
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.strip())

    def tasks(self) -> set[str]:
        for line in reversed(self.lines):
            if line.startswith("TASKS"):
                return {t for t in line[6:].split(",") if t}
        return set()

    def running(self) -> bool:
        return any(line == "STATE RUNNING" for line in self.lines)

    def kill(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def produce_lines(broker, topic, lines):
    producer = Producer({"bootstrap.servers": broker.bootstrap_servers, "linger.ms": 5})
    for line in lines:
        producer.produce(topic, line.encode())
    assert producer.flush(10) == 0


def read_counts(broker, topic, n, timeout=40.0):
    msgs = consume(broker, topic, n, timeout=timeout, isolation="read_committed")
    out: dict[str, list[int]] = {}
    for m in msgs:
        out.setdefault(m.key().decode(), []).append(struct.unpack(">q", m.value())[0])
    return out, len(msgs)


def read_until_totals(broker, topic, expected, timeout=40.0):
    """Counts per word (read_committed) until every word reached its expected total."""
    consumer = Consumer({"bootstrap.servers": broker.bootstrap_servers,
                         "group.id": unique_name("g"), "auto.offset.reset": "earliest",
                         "enable.auto.commit": False, "isolation.level": "read_committed"})
    consumer.subscribe([topic])
    out: dict[str, list[int]] = {}
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for m in consumer.consume(1000, 0.2):
                if m.error() is None:
                    out.setdefault(m.key().decode(), []).append(
                        struct.unpack(">q", m.value())[0])
            if all(out.get(w) and max(out[w]) >= n for w, n in expected.items()):
                for m in consumer.consume(10_000, 1.0):  # anything still in flight
                    if m.error() is None:
                        out.setdefault(m.key().decode(), []).append(
                            struct.unpack(">q", m.value())[0])
                break
    finally:
        consumer.close()
    return out


def output_size(broker, topic):
    """Records (and transaction markers) written to ``topic`` so far: a cheap progress probe."""
    consumer = Consumer({"bootstrap.servers": broker.bootstrap_servers, "group.id": "probe"})
    try:
        return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5)[1]
                   for p in range(2))
    finally:
        consumer.close()


def lines_of(n, seed, words=5, vocabulary=50):
    rng = random.Random(seed)
    vocab = [f"w{i:02d}" for i in range(vocabulary)]
    return [" ".join(rng.choices(vocab, k=words)) for _ in range(n)]


def _share_then_kill_one(kafka, tmp_path, force_out: bool) -> None:
    source, sink, app_id = unique_name("in"), unique_name("out"), unique_name("app")
    ensure_topics(kafka.bootstrap_servers, {source: 4, sink: 4})
    a = AppProcess(kafka, app_id, tmp_path / "a", "at_least_once", source, sink)
    b = AppProcess(kafka, app_id, tmp_path / "b", "at_least_once", source, sink)
    try:
        wait_for(lambda: a.tasks() and b.tasks() and len(a.tasks() | b.tasks()) == 8,
                 what="both instances owning tasks")
        assert not a.tasks() & b.tasks()
        first = lines_of(200, seed=1)
        produce_lines(kafka, source, first)
        expected = Counter(w for line in first for w in line.split())
        _, n = read_counts(kafka, sink, sum(expected.values()))
        assert n == sum(expected.values())
        time.sleep(0.5)  # past a commit interval: both instances have committed
        a.kill()
        if force_out:  # runtime_app's group.instance.id of a's only stream thread
            remove_static_members(kafka.bootstrap_servers, app_id, [f"{app_id}-a-1"])
        # 8 s: past runtime_app's session.timeout.ms=6000 plus a rebalance (~0.4 s here)
        wait_for(lambda: len(b.tasks()) == 8, timeout=8, what="b taking over all tasks")
        second = lines_of(200, seed=2)
        produce_lines(kafka, source, second)
        expected.update(w for line in second for w in line.split())
        counts, _ = read_counts(kafka, sink, sum(expected.values()))
        # B continued a's words from their restored counts: the last count is the total.
        assert {w: c[-1] for w, c in counts.items()} == dict(expected)
    finally:
        a.stop()
        b.stop()


@pytest.mark.xfail(strict=True, reason=(
    "noida-db 0.2.3 never evicts a SIGKILLed classic-group member, static or dynamic "
    "(measured: no rebalance within 65 s at session.timeout.ms=6000), so the survivor is "
    "never given its tasks unless the dead member is removed (see the test below)"))
def test_two_instances_share_partitions_and_one_takes_over(kafka, tmp_path):
    _share_then_kill_one(kafka, tmp_path, force_out=False)


def test_survivor_takes_over_with_state_once_the_dead_member_is_removed(kafka, tmp_path):
    """What Kafka's session timeout (or Admin.removeMembersFromConsumerGroup) triggers:
    the rebalance moves the dead instance's tasks, restored from their changelogs."""
    _share_then_kill_one(kafka, tmp_path, force_out=True)


@pytest.mark.parametrize("guarantee", ["exactly_once_v2", "at_least_once"])
def test_sigkill_mid_stream(kafka, tmp_path, guarantee):
    """Two crashes (SIGKILL at different points), then a run to the end on the same state
    dir. Under exactly_once_v2 the restart fences the transaction the crash left open."""
    source, sink, app_id = unique_name("in"), unique_name("out"), unique_name("crash")
    ensure_topics(kafka.bootstrap_servers, {source: 2, sink: 2})
    lines = lines_of(20000, seed=3)
    expected = Counter(w for line in lines for w in line.split())
    total = sum(expected.values())
    produce_lines(kafka, source, lines)
    state_dir = tmp_path / "state"
    for written in (1000, 30_000):  # records in the output topic when the kill comes
        crashing = AppProcess(kafka, app_id, state_dir, guarantee, source, sink)
        try:
            wait_for(lambda n=written: output_size(kafka, sink) >= n, timeout=60,
                     what="some output")
            crashing.kill()
            _, n = read_counts(kafka, sink, total, timeout=1.0)
            assert n < total, "the crash should happen mid-stream"
        finally:
            crashing.stop()
    second = AppProcess(kafka, app_id, state_dir, guarantee, source, sink)
    try:
        counts = read_until_totals(kafka, sink, expected)
    finally:
        second.stop()
    progress = {w: max(c) for w, c in counts.items()}
    if guarantee == "exactly_once_v2":
        assert progress == dict(expected), f"{sum(progress.values())} of {total} counted"
    else:
        # At-least-once may count a record twice after a crash (reprocessed input on top of
        # restored state), never less: every count up to the total must have been emitted.
        assert set(progress) == set(expected)
        assert all(progress[w] >= n for w, n in expected.items()), "a count went missing"
    for word, seen in counts.items():
        if guarantee == "exactly_once_v2":
            assert seen == list(range(1, expected[word] + 1)), word  # each count exactly once
        else:
            assert set(range(1, expected[word] + 1)) <= set(seen), word  # nothing lost
