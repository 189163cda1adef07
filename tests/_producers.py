"""A stand-in for confluent-kafka's Producer, for tests of the record collector's sends.

It records every ``produce`` call and can answer "queue full" on chosen calls, the
condition the collector must survive without losing a record; anything about the broker
itself is tested against a real one (tests/_kafka.py)."""

from __future__ import annotations


class RecordingProducer:
    """Records produce calls; raises BufferError on the calls numbered in ``full_at``."""

    def __init__(self, full_at=()):
        self.sent: list[tuple] = []
        self.calls = 0
        self.polls = 0
        self.full_at = set(full_at)

    def produce(self, topic, value, key, partition, on_delivery=None, callback=None,
                timestamp=0, headers=None):
        self.calls += 1
        if self.calls in self.full_at:
            raise BufferError("Local: Queue full")
        self.sent.append((topic, key, value, partition, timestamp))

    def poll(self, timeout=0):
        self.polls += 1
        return 0
