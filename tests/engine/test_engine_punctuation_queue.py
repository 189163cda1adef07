"""PunctuationQueue: Kafka's PunctuationQueueTest sequences (due times, catch-up, cancel)."""

from streamnb.engine.punctuation import PunctuationQueue


def _run(fired):
    def run(sched, now):
        fired.append(now)
        sched.callback(now)
    return run


def _check(first, steps):
    queue = PunctuationQueue()
    fired = []
    queue.add(first, 100, None, lambda ts: None)
    for now, expected_count, next_due in steps:
        queue.may_punctuate(now, _run(fired))
        assert len(fired) == expected_count, now
        assert queue._heap[0].time == next_due, now
    return fired


def test_interval_aligned_to_zero():
    fired = _check(100, [(0, 0, 100), (99, 0, 100), (100, 1, 200), (199, 1, 200), (200, 2, 300),
                         (1001, 3, 1100), (1002, 3, 1100), (1100, 4, 1200)])
    assert fired == [100, 200, 1001, 1100]  # the callback gets the current time


def test_interval_custom_alignment():
    _check(50, [(0, 0, 50), (49, 0, 50), (50, 1, 150), (149, 1, 150), (150, 2, 250),
                (1051, 3, 1150), (1052, 3, 1150), (1150, 4, 1250)])


def test_cancel_from_punctuator_and_before():
    queue = PunctuationQueue()
    fired = []
    handle = queue.add(100, 100, None, lambda ts: handle.cancel())
    queue.may_punctuate(0, _run(fired))
    assert fired == []
    queue.may_punctuate(100, _run(fired))
    assert fired == [100]
    queue.may_punctuate(200, _run(fired))
    assert fired == [100]
    other = queue.add(300, 100, None, lambda ts: None)
    other.cancel()
    assert queue.may_punctuate(500, _run(fired)) is False
    assert fired == [100]


def test_several_due_schedules_fire_in_due_time_order():
    queue = PunctuationQueue()
    order = []
    queue.add(30, 100, None, lambda ts: order.append("b"))
    queue.add(10, 100, None, lambda ts: order.append("a"))
    queue.may_punctuate(50, lambda sched, now: sched.callback(now))
    assert order == ["a", "b"]
