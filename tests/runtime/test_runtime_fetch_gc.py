"""The stream thread's fetch: the cyclic GC is off while a batch is taken from the consumer
(its messages would otherwise be promoted to the oldest generation and trigger full
collections over every store entry), on while the thread blocks waiting for records."""

from __future__ import annotations

import gc

import pytest

from streamnb.runtime import stream_thread
from streamnb.runtime.stream_thread import _fetch


@pytest.fixture(autouse=True)
def _gc_on():
    enabled = gc.isenabled()
    gc.enable()
    yield
    if enabled:
        gc.enable()
    else:
        gc.disable()


class _Consumer:
    """``consume(n, timeout)`` answering from a script; notes whether the GC was on."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls: list[tuple[float, bool]] = []

    def consume(self, n, timeout):
        self.calls.append((timeout, gc.isenabled()))
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def test_records_already_fetched_are_taken_with_the_gc_paused():
    consumer = _Consumer(["m1", "m2"])
    msgs, paused = _fetch(consumer.consume, 100, 0.1)
    assert (msgs, paused) == (["m1", "m2"], True)
    assert consumer.calls == [(0, False)]  # the consumer built the messages with no GC
    assert not gc.isenabled()  # the caller enables it after processing


def test_waiting_for_records_keeps_the_gc_on_and_pauses_it_for_what_arrives():
    consumer = _Consumer([], ["m"])
    msgs, paused = _fetch(consumer.consume, 100, 0.1)
    assert (msgs, paused) == (["m"], True)
    assert consumer.calls == [(0, False), (0.1, True)]
    assert not gc.isenabled()


def test_nothing_fetched_leaves_the_gc_on():
    consumer = _Consumer([], [])
    assert _fetch(consumer.consume, 100, 0.1) == ([], False)
    assert gc.isenabled()


def test_a_failing_consume_leaves_the_gc_on():
    consumer = _Consumer(RuntimeError("broker gone"))
    with pytest.raises(RuntimeError, match="broker gone"):
        _fetch(consumer.consume, 100, 0.1)
    assert gc.isenabled()


def test_with_the_gc_off_already_or_the_pause_disabled_it_is_left_alone(monkeypatch):
    gc.disable()
    consumer = _Consumer(["m"])
    assert _fetch(consumer.consume, 100, 0.1) == (["m"], False)
    assert not gc.isenabled()
    gc.enable()
    monkeypatch.setattr(stream_thread, "_PAUSE_GC", False)
    consumer = _Consumer(["m"])
    assert _fetch(consumer.consume, 100, 0.1) == (["m"], False)
    assert consumer.calls == [(0, True)] and gc.isenabled()
