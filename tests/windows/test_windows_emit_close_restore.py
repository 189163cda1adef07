"""EmitStrategy.on_window_close() across a restart: the last emitted window close time is
Kafka's processor metadata, committed with the input offsets; a task that gets it back (with
its stores restored from the changelog) neither emits a closed window again nor loses one."""

from __future__ import annotations

import pytest
from confluent_kafka import TopicPartition

from streamnb import EmitStrategy, Produced, StreamsBuilder, TopologyTestDriver
from streamnb.dsl.windows import SessionWindows, SlidingWindows, TimeWindows
from streamnb.runtime.restore import load_committed_metadata, offset_metadata
from streamnb.state.processor_metadata import (
    ProcessorMetadata,
    decode_offset_metadata,
    encode_offset_metadata,
)
from tests._restore import changelogs, restore_stores

CONFIG = {"application.id": "app", "default.key.serde": "string",
          "default.value.serde": "string"}
RECORDS = [("a", 0), ("b", 3), ("a", 12), ("a", 14), ("b", 25), ("c", 27), ("a", 31),
           ("b", 44), ("c", 52), ("a", 75), ("b", 90)]


def _topology(kind: str):
    builder = StreamsBuilder()
    grouped = builder.stream("in").group_by_key()
    windows = {"tumbling": TimeWindows.of_size_and_grace(10, 2),
               "hopping": TimeWindows.of_size_and_grace(10, 2).advance_by(5),
               "sliding": SlidingWindows.of_time_difference_and_grace(5, 2),
               "session": SessionWindows.of_inactivity_gap_and_grace(4, 30)}[kind]
    (grouped.windowed_by(windows).emit_strategy(EmitStrategy.on_window_close()).count()
     .to_stream().map(lambda wk, n: (f"{wk.key}@{wk.window.start}-{wk.window.end}", n))
     .to("out", Produced.with_("string", "long")))
    return builder.build()


def _pipe(driver, records):
    topic = driver.create_input_topic("in")
    for key, ts in records:
        topic.pipe_input(key, "x", ts)


def _outputs(driver):
    return [(r.key, r.value, r.timestamp) for r in
            driver.create_output_topic("out", value_serde="long").read_records_to_list()]


class _CommittedOffsets:
    """A consumer stand-in whose committed offsets carry the given metadata string."""

    def __init__(self, metadata: str | None) -> None:
        self.metadata = metadata

    def committed(self, partitions, timeout=None):
        extra = {} if self.metadata is None else {"metadata": self.metadata}
        return [TopicPartition(tp.topic, tp.partition, 5, **extra) for tp in partitions]


def _run(kind: str, split: int | None, keep_metadata: bool = True):
    with TopologyTestDriver(_topology(kind), CONFIG) as driver:
        _pipe(driver, RECORDS if split is None else RECORDS[:split])
        out = _outputs(driver)
        logs = changelogs(driver)
        committed = offset_metadata(driver._task, driver._task.ctx.stream_time)
    if split is None:
        return out
    with TopologyTestDriver(_topology(kind), CONFIG) as restarted:
        restore_stores(restarted, logs)
        load_committed_metadata(_CommittedOffsets(committed if keep_metadata else None),
                                restarted._task, [TopicPartition("in", 0)])
        _pipe(restarted, RECORDS[split:])
        return out + _outputs(restarted)


@pytest.mark.parametrize("kind", ["tumbling", "hopping", "sliding", "session"])
@pytest.mark.parametrize("split", [3, 5, 7, 9])
def test_restart_neither_repeats_nor_loses_a_window(kind, split):
    expected = _run(kind, None)
    assert len(expected) == len(set(expected)) > 3
    assert _run(kind, split) == expected


def test_without_the_committed_time_closed_windows_come_again():
    """What the metadata prevents: a restored store still holds closed windows, and a
    node that forgot its last close time emits them a second time."""
    expected = _run("tumbling", None)
    again = _run("tumbling", 5, keep_metadata=False)
    assert len(again) > len(expected)
    assert set(again) == set(expected)


def test_the_committed_time_is_the_store_keyed_processor_metadata():
    with TopologyTestDriver(_topology("tumbling"), CONFIG) as driver:
        _pipe(driver, RECORDS[:5])
        metadata = driver._task.processor_metadata
        store = next(name for name in driver._task.stores)
        assert dict(metadata.items()) == {store: 25 - 2}  # stream time 25 minus grace
        text = offset_metadata(driver._task, 25)
    assert decode_offset_metadata(text) == (25, metadata)


def test_offset_metadata_layout_is_kafkas():
    metadata = ProcessorMetadata({"s": 7})
    text = encode_offset_metadata(3, metadata)
    import base64

    raw = base64.b64decode(text)
    assert raw == (b"\x02" + (3).to_bytes(8, "big") + (1).to_bytes(4, "big")
                   + (1).to_bytes(4, "big") + b"s" + (7).to_bytes(8, "big"))
    assert decode_offset_metadata(text) == (3, metadata)
    assert decode_offset_metadata(base64.b64encode(b"\x01" + (9).to_bytes(8, "big")).decode()
                                  ) == (9, ProcessorMetadata())
    assert decode_offset_metadata("not ours!") == (-1, ProcessorMetadata())
    assert decode_offset_metadata(None) == (-1, ProcessorMetadata())
    merged = ProcessorMetadata({"s": 9, "t": 1})
    merged.update(ProcessorMetadata({"s": 4, "u": 2}))
    assert merged == ProcessorMetadata({"s": 9, "t": 1, "u": 2})
