"""StreamThread._tasks_migrated: the one handler of failed commits (the loop's commit, a
background commit failure seen while processing, the revoke callback's commit)."""

from __future__ import annotations

import logging
import threading
from types import SimpleNamespace

import pytest
from confluent_kafka import KafkaError, KafkaException

from streamnb.runtime.stream_thread import StreamThread


class _Consumer:
    def __init__(self):
        self.calls: list[str] = []

    def unsubscribe(self):
        self.calls.append("unsubscribe")

    def subscribe(self, topics, on_assign=None, on_revoke=None, on_lost=None):
        self.calls.append(f"subscribe {topics}")


def _thread():
    thread = StreamThread.__new__(StreamThread)
    threading.Thread.__init__(thread, name="app-StreamThread-1")
    thread.lock = threading.RLock()
    thread._consumer = _Consumer()
    thread.plan = SimpleNamespace(stream_topics=["in"])
    thread.steps = []
    thread._abort = lambda: thread.steps.append("abort")
    thread._close_tasks = lambda clean: thread.steps.append(f"close clean={clean}")
    return thread


def _error(code):
    return KafkaException(KafkaError(code, "injected"))


@pytest.mark.parametrize("code", [KafkaError.ILLEGAL_GENERATION, KafkaError.UNKNOWN_MEMBER_ID,
                                  KafkaError.REBALANCE_IN_PROGRESS,
                                  KafkaError.FENCED_INSTANCE_ID])
def test_a_migrated_commit_closes_the_tasks_dirty_and_rejoins(code, caplog):
    thread = _thread()
    with caplog.at_level(logging.WARNING, logger="streamnb.runtime"):
        thread._tasks_migrated(_error(code), rejoin=True)
    assert thread.steps == ["abort", "close clean=False"]
    assert thread._consumer.calls == ["unsubscribe", "subscribe ['in']"]
    assert any("tasks migrated" in m and "injected" in m for m in caplog.messages)


def test_inside_the_revoke_callback_it_does_not_rejoin():
    thread = _thread()
    thread._tasks_migrated(_error(KafkaError.ILLEGAL_GENERATION), rejoin=False)
    assert thread.steps == ["abort", "close clean=False"]
    assert thread._consumer.calls == []


@pytest.mark.parametrize("rejoin", [True, False])
def test_any_other_commit_error_is_raised_untouched(rejoin):
    thread = _thread()
    error = _error(KafkaError._MSG_TIMED_OUT)
    with pytest.raises(KafkaException) as raised:
        thread._tasks_migrated(error, rejoin=rejoin)
    assert raised.value is error
    assert thread.steps == [] and thread._consumer.calls == []
