"""The stream thread's batch path: column decoding, runs of one partition in a consumed
batch, JSON encoding shortcuts, and exactly-once commits that reach the end offsets."""

from __future__ import annotations

import gc
import json
import struct
import time
from types import SimpleNamespace

import pytest
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition
from test_runtime_noida import config, produce, updates, wait_for, wordcount

from streamnb import KafkaStreams
from streamnb.broker import ensure_topics
from streamnb.runtime.codecs import _encode_expr, compile_decode_run, encoder
from streamnb.runtime.metrics import ThreadMetrics
from streamnb.runtime.stream_thread import StreamThread, _Input
from streamnb.serde import Serdes
from tests._kafka import unique_name


def msg(topic, partition, offset, key=None, value=b"v", ts=1000, headers=None, error=None):
    return Message(topic=topic, partition=partition, offset=offset, key=key, value=value,
                   timestamp=(1, ts), headers=headers, error=error)


def test_decode_run_returns_decoded_columns():
    decode = compile_decode_run(Serdes.String(), Serdes.Long())
    msgs = [msg("t", 0, 7, b"a", struct.pack(">q", 3), 10, [("h", b"1")]),
            msg("t", 0, 8, None, None, 11)]
    keys, values, timestamps, headers, offsets = decode(msgs)
    assert (keys, values, timestamps, offsets) == (["a", None], [3, None], [10, 11], [7, 8])
    assert headers == [[("h", b"1")], None]


@pytest.mark.parametrize("keys", [[None, None], [b'"x"', b'"y"'], [None, b"[1]"]])
def test_decode_run_json_with_and_without_null_keys(keys):
    decode = compile_decode_run(Serdes.JSON(), Serdes.JSON())
    msgs = [msg("t", 0, i, k, b'{"n":%d}' % i) for i, k in enumerate(keys)]
    got_keys, values, *_ = decode(msgs)
    assert got_keys == [None if k is None else json.loads(k) for k in keys]
    assert values == [{"n": 0}, {"n": 1}]


def test_decode_run_raises_on_bad_bytes():
    decode = compile_decode_run(Serdes.String(), Serdes.String())
    with pytest.raises(UnicodeDecodeError):
        decode([msg("t", 0, 0, b"ok", b"\xff\xfe")])


JSON_CASES = ["word", "", 'a"b', "a\\b", "tab\there", "nl\n", "é ü 日本", "\u2028", "\x7f",
              5, -3, 1.5, {"a": 1}, [1, "x"]]


@pytest.mark.parametrize("value", JSON_CASES)
def test_json_encoders_write_what_json_dumps_writes(value):
    want = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    env: dict = {}
    compiled = eval("lambda x: " + _encode_expr(Serdes.JSON(), "x", env, "ej"), env)  # noqa: S307
    assert encoder(Serdes.JSON(), "t")(value) == want
    assert compiled(value) == want


class _Collector:
    def drain(self):
        pass


def _thread_with_inputs(tps):
    """A StreamThread without clients whose inputs record the batches they are given."""
    thread = StreamThread.__new__(StreamThread)
    thread.metrics = ThreadMetrics("t")
    thread.collector = _Collector()
    thread._inputs = {}
    seen = {}
    for topic, partition in tps:
        inp = _Input(topic, partition, SimpleNamespace(), None, None, None)
        inp.decode_run = compile_decode_run(Serdes.String(), Serdes.String())
        got = seen.setdefault((topic, partition), [])
        inp.batch = lambda records, got=got: got.extend(records)
        thread._inputs[(topic, partition)] = inp
    return thread, seen


def test_a_consumed_batch_is_split_into_runs_of_one_partition_in_order():
    thread, seen = _thread_with_inputs([("a", 0), ("a", 1), ("b", 0)])
    msgs = [msg("a", 0, 0, b"k0"), msg("a", 0, 1, b"k1"), msg("b", 0, 0, b"k2"),
            msg("a", 1, 0, b"k3"), msg("a", 0, 2, b"k4", ts=5000), msg("zz", 0, 0, b"gone")]
    thread._process(msgs)
    assert [r[0] for r in seen[("a", 0)]] == ["k0", "k1", "k4"]
    assert [r[0] for r in seen[("b", 0)]] == ["k2"]
    assert [r[0] for r in seen[("a", 1)]] == ["k3"]
    assert seen[("a", 0)][-1] == ("k4", "v", 5000, None, 2)
    assert thread._inputs[("a", 0)].offset == 2 and thread._inputs[("b", 0)].offset == 0
    assert thread.metrics.process_total == 5  # the record of an unowned partition is not


def test_a_single_partition_batch_is_one_run():
    thread, seen = _thread_with_inputs([("a", 2)])
    thread._process([msg("a", 2, i, b"k%d" % i) for i in range(50)])
    assert [r[4] for r in seen[("a", 2)]] == list(range(50))
    assert thread.metrics.process_total == 50


def test_a_batch_with_a_consumer_error_processes_around_it():
    thread, seen = _thread_with_inputs([("a", 0)])
    errors = []
    thread._consumer_error = errors.append
    err = KafkaError(KafkaError._TRANSPORT)
    thread._process([msg("a", 0, 0, b"k0"), msg("a", 0, 1, error=err), msg("a", 0, 2, b"k2")])
    assert [r[0] for r in seen[("a", 0)]] == ["k0", "k2"]
    assert errors == [err]


def test_exactly_once_commits_reach_the_end_offsets_of_every_input(kafka, tmp_path):
    """Commit markers follow every transaction: the committed offsets must pass them (the
    consumer's position, as Kafka Streams commits), so the group's lag reaches 0."""
    source, sink = unique_name("in"), unique_name("out")
    ensure_topics(kafka.bootstrap_servers, {source: 2, sink: 2})
    app_id = unique_name("eos-lag")
    produce(kafka, source, ["a b c", "b c", "c"])
    streams = KafkaStreams(wordcount(source, sink), config(
        kafka, app_id, tmp_path, **{"processing.guarantee": "exactly_once_v2"}))
    streams.start()
    try:
        assert len(updates(kafka, sink, 6)) == 6
        probe = Consumer({"bootstrap.servers": kafka.bootstrap_servers, "group.id": app_id,
                          "enable.auto.commit": False})
        try:
            tps = [TopicPartition(t, p) for t in streams.plan.stream_topics for p in range(2)]

            def lag_zero():
                for tp in probe.committed(tps, 10):
                    high = probe.get_watermark_offsets(tp, 10, cached=False)[1]
                    if high > 0 and tp.offset != high:
                        return False
                return True
            wait_for(lag_zero, timeout=15, what="committed offsets at the end offsets")
            repartition = [t for t in streams.plan.stream_topics if t != source]
            ends = [probe.get_watermark_offsets(TopicPartition(t, p), 10, cached=False)[1]
                    for t in repartition for p in range(2)]
            assert sum(ends) > 6  # the repartition topic holds 6 records and commit markers
        finally:
            probe.close()
        time.sleep(0.3)  # no commit without new records: nothing changes when idle
        assert streams.metrics()["process-total"] == 3 + 6
    finally:
        streams.close(10)


@pytest.mark.parametrize("enabled", [True, False])
def test_batches_leave_the_cyclic_gc_as_they_found_it(kafka, tmp_path, enabled):
    """The loop pauses the collector during a batch only: enabled again after each batch,
    and never switched on when the user had switched it off."""
    source, sink = unique_name("in"), unique_name("out")
    ensure_topics(kafka.bootstrap_servers, {source: 1, sink: 1})
    produce(kafka, source, ["a b"] * 200)
    was = gc.isenabled()
    if not enabled:
        gc.disable()
    streams = KafkaStreams(wordcount(source, sink), config(kafka, unique_name("gc"), tmp_path))
    try:
        streams.start()
        assert len(updates(kafka, sink, 400)) == 400
        wait_for(lambda: streams.metrics()["process-total"] == 600, what="all processed")
        time.sleep(0.2)  # the thread is between batches, polling
        assert gc.isenabled() is enabled
    finally:
        streams.close(10)
        if was:
            gc.enable()
