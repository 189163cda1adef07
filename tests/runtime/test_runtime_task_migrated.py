"""A commit that finds the group rebalanced without this member is not fatal.

Two instances starting together on a 4-partition topic made one of them commit with a stale
generation (ILLEGAL_GENERATION) now and then; the stream thread used to die and take the
client to ERROR. Kafka Streams treats it as TaskMigratedException: close the tasks without
committing, rejoin, carry on. These tests inject that broker answer into a running app on a
real broker and check the app rejoins and finishes the work (at-least-once: maybe twice,
never lost).
"""

from __future__ import annotations

import logging

import pytest
from confluent_kafka import KafkaError, KafkaException

from streamnb import KafkaStreams
from streamnb.broker import ensure_topics
from streamnb.runtime import State
from tests._kafka import unique_name
from tests.runtime.test_runtime_noida import config, produce, wait_for, wordcount


def _stale_generation_commits(thread, failures: int) -> list[str]:
    """Make the next ``failures`` commits of ``thread`` fail as a stale member's would."""
    real = thread.commit
    calls: list[str] = []

    def commit() -> None:
        if len(calls) < failures:
            calls.append("failed")
            raise KafkaException(KafkaError(KafkaError.ILLEGAL_GENERATION,
                                            "Commit failed: Specified group generation id "
                                            "is not valid (injected)"))
        calls.append("ok")
        real()

    thread.commit = commit  # the loop and the revoke callback both call self.commit()
    return calls


@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once_v2"])
def test_stale_generation_commit_rejoins_and_keeps_processing(kafka, tmp_path, caplog,
                                                              guarantee):
    source, sink = unique_name("in"), unique_name("out")
    ensure_topics(kafka.bootstrap_servers, {source: 2, sink: 2})
    streams = KafkaStreams(wordcount(source, sink), config(
        kafka, unique_name("migrated"), tmp_path, **{"processing.guarantee": guarantee}))
    streams.start()
    try:
        wait_for(lambda: streams.state() is State.RUNNING, what="RUNNING")
        produce(kafka, source, ["kafka streams", "kafka"])
        wait_for(lambda: streams.store("counts").get("kafka") == 2, what="first counts")
        thread = streams._threads[0]
        rebalances = thread.metrics.rebalances
        with caplog.at_level(logging.WARNING, logger="streamnb.runtime"):
            calls = _stale_generation_commits(thread, failures=2)
            produce(kafka, source, ["kafka summit"])
            wait_for(lambda: "ok" in calls, what="a commit after the rejoin")
            wait_for(lambda: streams.state() is State.RUNNING, what="RUNNING again")
            produce(kafka, source, ["kafka"])
            # At-least-once may count the uncommitted line twice; nothing is lost.
            wait_for(lambda: (streams.store("counts").get("kafka") or 0) >= 4,
                     what="counts after the rejoin")
        assert calls[:2] == ["failed", "failed"]
        assert thread.metrics.rebalances > rebalances  # it left the group and came back
        assert thread.error is None and streams.state() is State.RUNNING
        migrated = [r for r in caplog.records if "tasks migrated" in r.getMessage()]
        assert migrated and "injected" in migrated[0].getMessage()
        if guarantee == "exactly_once_v2":  # the aborted transaction hid the first try
            assert streams.store("counts").get("kafka") == 4
    finally:
        assert streams.close(10)
