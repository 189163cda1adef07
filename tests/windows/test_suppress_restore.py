"""A suppression buffer survives a restart: its changelog carries Kafka's BufferValue (prior,
old and new value, record context, buffer time), so a task restored from it emits the same
(new, old) changes with the same record context as a run that never stopped."""

from __future__ import annotations

import pytest

from streamnb import Processor, Serdes, StreamsBuilder, Suppressed, TopologyTestDriver
from streamnb.dsl.suppress import BufferConfig
from streamnb.processor import Headers
from streamnb.state.suppress_changelog import BufferValueSerde, new_entry
from tests._restore import changelogs, restore_stores

CONFIG = {"application.id": "app", "default.key.serde": "string",
          "default.value.serde": "long"}
STORE = "sup-store"

# (key, value, timestamp, headers): sums per key, suppressed for 10 ms of stream time
RECORDS = [("a", 1, 0, None), ("a", 2, 1, [("h", b"1")]), ("b", 5, 2, None),
           ("a", 3, 15, None), ("c", 7, 16, [("h", b"c")]), ("a", 4, 17, [("h", b"2")]),
           ("b", 1, 18, None), ("a", 5, 20, [("h", b"3")]), ("d", 10, 30, None),
           ("c", 1, 31, None), ("b", 2, 45, None), ("a", 1, 60, None)]


class _Capture(Processor):
    """Records what reaches it: key, value, timestamp, headers and the record's origin."""

    def __init__(self, seen: list) -> None:
        self.seen = seen

    def init(self, context):
        self.context = context

    def process(self, record):
        meta = self.context.record_metadata()
        where = None if meta is None else (meta.topic, meta.partition, meta.offset)
        headers = None if record.headers is None else list(record.headers)
        self.seen.append((record.key, record.value, record.timestamp, headers or None, where))


def _topology(calls: list, seen: list, until_time_limit: bool = True):
    """sum per key -> suppress -> (sum over all keys with a subtractor: it sees the old
    values the suppression emits) and a capture of every emission with its context."""
    builder = StreamsBuilder()
    sums = builder.stream("in").group_by_key().reduce(lambda a, b: a + b)
    config = BufferConfig.unbounded() if until_time_limit else BufferConfig.max_records(2)
    suppressed = sums.suppress(Suppressed.until_time_limit(10, config).with_name("sup"))

    def adder(key, value, agg):
        calls.append(("+", key, value))
        return agg + value

    def subtractor(key, value, agg):
        calls.append(("-", key, value))
        return agg - value

    suppressed.to_stream().process(lambda: _Capture(seen))
    suppressed.group_by(lambda k, v: ("all", v)).aggregate(
        lambda: 0, adder, subtractor).to_stream().to("out")
    return builder.build()


def _pipe(driver, records):
    topic = driver.create_input_topic("in")
    for key, value, ts, headers in records:
        topic.pipe_input(key, value, ts, Headers(headers) if headers else None)


def _outputs(driver):
    return [(r.key, r.value, r.timestamp)
            for r in driver.create_output_topic("out").read_records_to_list()]


def _run(split: int | None, until_time_limit: bool = True):
    """Run RECORDS, restarting after ``split`` records (None: no restart)."""
    calls: list = []
    seen: list = []
    topology = _topology(calls, seen, until_time_limit)
    records = RECORDS if split is None else RECORDS[:split]
    with TopologyTestDriver(topology, CONFIG) as driver:
        _pipe(driver, records)
        out = _outputs(driver)
        logs = changelogs(driver)
        offsets = dict(driver._offsets)
        buffer = driver.get_all_state_stores()[STORE]
        before = {key: list(entry) for key, entry in buffer.entries.items()}
    if split is None:
        return calls, seen, out, before
    restarted = TopologyTestDriver(_topology(calls, seen, until_time_limit), CONFIG)
    with restarted:
        restore_stores(restarted, logs)
        after = {key: list(entry) for key, entry in
                 restarted.get_all_state_stores()[STORE].entries.items()}
        assert after == before  # values, prior values, context, buffer times
        restarted._offsets = offsets  # the consumer resumes after the committed offsets
        _pipe(restarted, RECORDS[split:])
        out += _outputs(restarted)
    return calls, seen, out, before


@pytest.mark.parametrize("split", [3, 6, 7, 8, 10])
def test_restart_emits_what_an_uninterrupted_run_emits(split):
    expected = _run(None)
    got = _run(split)
    assert got[0] == expected[0]  # adder/subtractor calls: new and old values
    assert got[1] == expected[1]  # emissions with timestamp, headers, topic/partition/offset
    assert got[2] == expected[2]


@pytest.mark.parametrize("split", [4, 7])
def test_restart_with_an_early_emitting_bounded_buffer(split):
    assert _run(split, until_time_limit=False)[:3] == _run(None, until_time_limit=False)[:3]


def test_emission_carries_the_buffered_update_context():
    calls, seen, _, _ = _run(None)
    # a=6 is emitted at 15; a=10 (@17) and a=15 (@20) are buffered; at 30 the latest update
    # leaves with its own context and, as old value, the 6 downstream saw (not 10)
    assert ("a", 15, 20, [("h", b"3")], ("in", 0, 7)) in seen
    at = calls.index(("+", "all", 15))
    assert calls[at - 1] == ("-", "all", 6)


def test_buffer_value_layout_is_kafkas():
    serde = BufferValueSerde(Serdes.String())
    entry = new_entry(7, "new", "prior", "prior", 5, Headers([("k", b"v")]), "t", 2, 9, 0)
    data = serde.serialize("x", entry)
    expected = ((5).to_bytes(8, "big") + (9).to_bytes(8, "big") + (1).to_bytes(4, "big")
                + b"t" + (2).to_bytes(4, "big") + (1).to_bytes(4, "big")
                + (1).to_bytes(4, "big") + b"k" + (1).to_bytes(4, "big") + b"v"
                + (5).to_bytes(4, "big") + b"prior" + (-2).to_bytes(4, "big", signed=True)
                + (3).to_bytes(4, "big") + b"new" + (7).to_bytes(8, "big"))
    assert data == expected
    back = serde.deserialize("x", data)
    assert back[:3] == [7, "new", "prior"] and back[6:] == ["prior", "t", 2, 9]
    assert list(back[4]) == [("k", b"v")]
    nulls = new_entry(1, None, None, "old", 0, None, None, -1, -1, 0)
    assert serde.deserialize("x", serde.serialize("x", nulls)) == nulls
    with pytest.raises(Exception, match="truncated"):
        serde.deserialize("x", data[:-3])


def test_restored_tombstones_leave_the_eviction_order_intact():
    from streamnb.dsl.suppress import SuppressionBuffer

    buffer = SuppressionBuffer("b")
    for i, key in enumerate("dcba"):
        buffer._restore(key, new_entry(10 - i, i, None, None, i, None, "t", 0, i, 0))
    buffer._restore("a", None)  # the head
    buffer._restore("c", None)
    buffer._restore("c", new_entry(1, 99, None, None, 0, None, "t", 0, 0, 0))
    order = []
    while buffer.entries:
        key, entry = buffer.pop()
        order.append((key, entry[0]))
    assert order == [("c", 1), ("b", 8), ("d", 10)]
