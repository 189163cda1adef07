"""produce / tail against a real broker: record shapes, serdes, start positions, and the
errors a user gets for bad input."""

from __future__ import annotations

import threading

import pandas as pd
import pytest

from streamnb import KafkaStreams, StreamsBuilder
from streamnb.broker import MissingSourceTopicException
from streamnb.errors import SerializationException
from streamnb.runtime.clients import TopicTail, produce, tail, tail_frame
from tests._kafka import unique_name


def test_record_shapes_round_trip(kafka):
    topic = unique_name("shapes")
    bootstrap = kafka.bootstrap_servers
    assert produce(bootstrap, topic, ["a", ("k", {"n": 1}), ("k2", [1, 2], 1_700_000_000_000)],
                   partitions=1) == 3
    assert produce(bootstrap, topic, {"x": 1, "y": None}) == 2
    frame = pd.DataFrame({"key": ["d"], "value": [4.5],
                          "timestamp": pd.to_datetime([1_700_000_001_000], unit="ms")})
    assert produce(bootstrap, topic, frame) == 1
    got = tail_frame(bootstrap, topic)
    assert list(got.columns) == ["key", "value", "timestamp", "partition", "offset"]
    assert got["key"].tolist() == [None, "k", "k2", "x", "y", "d"]
    assert got["value"].tolist() == ["a", {"n": 1}, [1, 2], 1, None, 4.5]
    assert got["offset"].tolist() == list(range(6))
    assert got["timestamp"].iloc[2] == pd.Timestamp(1_700_000_000_000, unit="ms", tz="UTC")
    assert got["timestamp"].iloc[5] == pd.Timestamp(1_700_000_001_000, unit="ms", tz="UTC")


def test_serdes_by_name_and_clear_decode_error(kafka):
    topic = unique_name("serdes")
    produce(kafka.bootstrap_servers, topic, [("a", 7)], key_serde="string",
            value_serde="long", partitions=2)
    got = tail_frame(kafka.bootstrap_servers, topic, key_serde="string", value_serde="long")
    assert got[["key", "value"]].values.tolist() == [["a", 7]]
    with pytest.raises(SerializationException, match=r"offset 0\); pass key_serde="):
        tail_frame(kafka.bootstrap_servers, topic, key_serde="string", value_serde="json")


def test_tail_starts_at_end_or_last_n(kafka):
    topic = unique_name("tail")
    produce(kafka.bootstrap_servers, topic, ["old1", "old2", "old3"], partitions=1)
    with TopicTail(kafka.bootstrap_servers, topic) as from_end:
        produce(kafka.bootstrap_servers, topic, ["new"])
        assert [r.value for r in from_end.read_to_end(timeout=5)] == ["new"]
    with TopicTail(kafka.bootstrap_servers, topic, last=2) as last_two:
        assert [r.value for r in last_two.read_to_end(timeout=5)] == ["old3", "new"]
    values = [r.value for r in tail(kafka.bootstrap_servers, topic, from_beginning=True,
                                    max_records=2, timeout=10)]
    assert values == ["old1", "old2"]


def test_tail_iterator_sees_records_produced_later(kafka):
    topic = unique_name("live")
    produce(kafka.bootstrap_servers, topic, ["before"], partitions=1)
    got: list = []
    reader = threading.Thread(target=lambda: got.extend(
        tail(kafka.bootstrap_servers, topic, max_records=3, timeout=15)))
    with TopicTail(kafka.bootstrap_servers, topic):  # just so the topic's metadata is warm
        pass
    reader.start()
    # The generator positions itself on its first next(); give it a moment, then produce.
    threading.Event().wait(1.0)
    produce(kafka.bootstrap_servers, topic, ["a", "b", "c"])
    reader.join(20)
    assert [r.value for r in got] == ["a", "b", "c"]


def test_kafka_streams_target_uses_its_serdes(kafka, tmp_path):
    app = unique_name("app")
    builder = StreamsBuilder()
    builder.stream(f"{app}-in").to(f"{app}-out")
    streams = KafkaStreams(builder.build(), {
        "application.id": app, "bootstrap.servers": kafka.bootstrap_servers,
        "state.dir": str(tmp_path), "default.value.serde": "string",
        "default.key.serde": "string"})
    with pytest.raises(MissingSourceTopicException, match="pass partitions=N"):
        produce(streams, f"{app}-in", ["x"])
    assert produce(streams, f"{app}-in", [("k", "plain text")], partitions=1) == 1
    raw = tail_frame(kafka.bootstrap_servers, f"{app}-in", key_serde="bytes",
                     value_serde="bytes")
    assert raw["value"].tolist() == [b"plain text"]  # string serde: no JSON quotes


@pytest.mark.parametrize("records, error, match", [
    (pd.DataFrame({"v": [1]}), ValueError, "needs a 'value' column"),
    (pd.DataFrame({"value": [1], "extra": [2]}), ValueError, r"\['extra'\] would not be sent"),
    ([("k", "v", 0)], ValueError, "must be > 0"),
    ([(1, 2, 3, 4)], ValueError, "a tuple record is"),
    (42, TypeError, "records must be"),
])
def test_bad_records_are_refused(kafka, records, error, match):
    with pytest.raises(error, match=match):
        produce(kafka.bootstrap_servers, unique_name("bad"), records, partitions=1)


def test_bad_targets(kafka):
    with pytest.raises(TypeError, match="KafkaStreams, a 'host:port'"):
        produce(3.5, "t", ["x"])
    with pytest.raises(MissingSourceTopicException, match="check the name"):
        TopicTail(kafka.bootstrap_servers, unique_name("missing"))


def test_keyed_records_land_on_kafkas_default_partition(kafka):
    """produce() partitions like Java clients and the stream threads (murmur2), so data
    written with it co-partitions with repartition topics and joins."""
    from streamnb.query.murmur2 import partition_for
    from streamnb.serde import Serdes

    topic = unique_name("murmur")
    keys = [f"key-{i}" for i in range(40)]
    produce(kafka.bootstrap_servers, topic, [(k, 1) for k in keys], partitions=4)
    got = tail_frame(kafka.bootstrap_servers, topic)
    serde = Serdes.JSON()
    expected = {k: partition_for(serde.serialize(topic, k), 4) for k in keys}
    assert dict(zip(got["key"], got["partition"])) == expected
    assert len(set(expected.values())) == 4  # the keys do spread over all partitions
