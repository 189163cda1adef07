"""RecordCollector.send_changelog_batch: a commit's changelog records of one store in one
compiled loop, with the same bytes, partition, timestamps and errors as send_changelog."""

from __future__ import annotations

import struct

import pytest

from streamnb.errors import SerializationException
from streamnb.runtime.config import StreamsConfig
from streamnb.runtime.metrics import ThreadMetrics
from streamnb.runtime.record_collector import RecordCollector
from streamnb.serde import Serdes
from tests._producers import RecordingProducer


def _collector(producer, **config):
    collector = RecordCollector(StreamsConfig({"application.id": "cl", **config}),
                                lambda topic: 1, ThreadMetrics("t"))
    collector.bind(producer)
    return collector


RECORDS = [("a", 1, 10), ("b", None, 11), ("é\n", 3, 12)]


@pytest.mark.parametrize("serdes", [(None, None), (Serdes.String(), Serdes.Long())])
def test_batch_sends_what_one_send_per_record_sends(serdes):
    one, batch = RecordingProducer(), RecordingProducer()
    for key, value, ts in RECORDS:
        _collector(one).send_changelog("cl-store-changelog", 2, key, value, ts, *serdes)
    _collector(batch).send_changelog_batch("cl-store-changelog", 2, RECORDS, *serdes)
    assert batch.sent == one.sent
    assert [r[2] for r in batch.sent][1] is None  # a tombstone stays a tombstone
    if serdes[1] is not None:
        assert batch.sent[0][1:3] == (b"a", struct.pack(">q", 1))


def test_a_full_queue_mid_batch_waits_and_loses_nothing():
    producer = RecordingProducer(full_at={2, 3})  # the 2nd record meets a full queue twice
    _collector(producer).send_changelog_batch("t", 0, RECORDS * 2, None, None)
    assert [r[4] for r in producer.sent] == [10, 11, 12, 10, 11, 12]
    assert producer.polls >= 1


def test_a_value_the_serde_cannot_write_raises_a_clear_error():
    producer = RecordingProducer()
    with pytest.raises(SerializationException, match="Long"):
        _collector(producer).send_changelog_batch(
            "t", 0, [("a", 1, 1), ("b", "not a number", 2)], Serdes.String(), Serdes.Long())
    assert len(producer.sent) == 1


def test_a_replaced_producer_gets_the_batches_too():
    first, second = RecordingProducer(), RecordingProducer()
    collector = _collector(first)
    collector.send_changelog_batch("t", 0, RECORDS[:1], None, None)
    collector.bind(second)
    collector.send_changelog_batch("t", 0, RECORDS[:1], None, None)
    assert len(first.sent) == 1 and len(second.sent) == 1
