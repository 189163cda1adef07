"""Processor API: Record, ProcessorContext (forward, schedule, stores, metadata), Stores,
following Kafka's ProcessorTopologyTest, PunctuationQueueTest and TopologyTestDriverTest."""

import pytest

from streamnb import (
    KeyValue,
    Processor,
    PunctuationType,
    Record,
    Serdes,
    Stores,
    StreamsBuilder,
    Topology,
    TopologyTestDriver,
)
from streamnb.errors import StreamsException, TopologyException


class Upper(Processor):
    def init(self, context):
        self.context = context

    def process(self, record):
        self.context.forward(record.with_value(record.value.upper()))


class Router(Processor):
    """Forwards each record only to the child named by its key."""

    def init(self, context):
        self.context = context

    def process(self, record):
        self.context.forward(record, record.key)


def test_record_copies():
    record = Record("k", "v", 5, [("h", b"1")])
    assert record.with_key("k2").key == "k2" and record.key == "k"
    assert record.with_value("v2").value == "v2"
    assert record.with_timestamp(9).timestamp == 9
    assert record.with_value("x").headers.last_header("h") == b"1"
    with pytest.raises(ValueError):
        Record("k", "v", -1)


def test_process_returns_the_stream_of_forwarded_records():
    builder = StreamsBuilder()
    builder.stream("in").process(lambda: Upper()).to("out")
    text = str(builder.build().describe())
    assert "Processor: KSTREAM-PROCESSOR-0000000001 (stores: [])" in text
    with TopologyTestDriver(builder.build()) as driver:
        driver.create_input_topic("in").pipe_input("k", "hello", 7)
        record = driver.create_output_topic("out").read_record()
        assert (record.key, record.value, record.timestamp) == ("k", "HELLO", 7)


def test_forward_to_a_named_child_and_unknown_child():
    topology = Topology()
    topology.add_source("source", "in")
    topology.add_processor("router", Router, "source")
    topology.add_sink("a", "topic-a", "router")
    topology.add_sink("b", "topic-b", "router")
    with TopologyTestDriver(topology) as driver:
        inp = driver.create_input_topic("in")
        inp.pipe_input("a", 1, 1)
        inp.pipe_input("b", 2, 2)
        inp.pipe_input("a", 3, 3)
        assert driver.create_output_topic("topic-a").read_values_to_list() == [1, 3]
        assert driver.create_output_topic("topic-b").read_values_to_list() == [2]
        with pytest.raises(StreamsException, match="Unknown downstream node: c either does not "
                                                   "exist or is not connected to this processor"):
            inp.pipe_input("c", 4, 4)


def test_headers_and_timestamps_pass_through():
    class Stamp(Processor):
        def init(self, context):
            self.context = context

        def process(self, record):
            record.headers.add("seen", b"yes")
            self.context.forward(record.with_timestamp(record.timestamp + 1))

    builder = StreamsBuilder()
    builder.stream("in").map_values(lambda v: v).process(Stamp).filter(lambda k, v: True).to("out")
    with TopologyTestDriver(builder.build()) as driver:
        driver.create_input_topic("in").pipe_input("k", "v", 10, headers=[("h", b"1")])
        record = driver.create_output_topic("out").read_record()
        assert record.timestamp == 11
        assert record.headers.last_header("h") == b"1"
        assert record.headers.last_header("seen") == b"yes"


def test_record_metadata():
    seen = []

    class Meta(Processor):
        def init(self, context):
            self.context = context

        def process(self, record):
            seen.append(tuple(self.context.record_metadata()))

    builder = StreamsBuilder()
    builder.stream(["t1", "t2"]).process(Meta)
    with TopologyTestDriver(builder.build()) as driver:
        driver.create_input_topic("t1").pipe_input("k", 1)
        driver.create_input_topic("t1").pipe_input("k", 2)
        driver.create_input_topic("t2").pipe_input("k", 3)
    assert seen == [("t1", 0, 0), ("t1", 0, 1), ("t2", 0, 0)]


class Punctuating(Processor):
    def __init__(self, kind, interval, log):
        self.kind, self.interval, self.log = kind, interval, log

    def init(self, context):
        self.context = context
        self.handle = context.schedule(self.interval, self.kind, self.punctuate)

    def punctuate(self, timestamp):
        self.log.append(timestamp)
        self.context.forward(Record("p", timestamp, timestamp))

    def process(self, record):
        pass


def _punctuating(kind, interval, log):
    builder = StreamsBuilder()
    builder.stream("in").process(lambda: Punctuating(kind, interval, log)).to("out")
    return builder.build()


def test_stream_time_punctuation_alignment_and_catch_up():
    log = []
    with TopologyTestDriver(_punctuating(PunctuationType.STREAM_TIME, 10, log)) as driver:
        inp = driver.create_input_topic("in")
        inp.pipe_input("k", "v", 3)   # first schedule time is 0: fires with stream time 3
        inp.pipe_input("k", "v", 9)   # next due 10
        inp.pipe_input("k", "v", 25)  # fires once with 25 (missed 20), next due 30
        inp.pipe_input("k", "v", 12)  # out of order: stream time stays 25
        inp.pipe_input("k", "v", 30)
        assert log == [3, 25, 30]
        out = driver.create_output_topic("out").read_records_to_list()
        assert [(r.value, r.timestamp) for r in out] == [(3, 3), (25, 25), (30, 30)]


def test_wall_clock_punctuation_and_cancel():
    log = []
    topology = _punctuating(PunctuationType.WALL_CLOCK_TIME, 10, log)
    with TopologyTestDriver(topology, initial_wall_clock_time=1000) as driver:
        driver.advance_wall_clock_time(5)
        assert log == []
        driver.advance_wall_clock_time(5)   # now 1010 = first due (start + interval)
        assert log == [1010]
        driver.advance_wall_clock_time(35)  # 1045: fires once, next due 1050
        assert log == [1010, 1045]
        driver.advance_wall_clock_time(5)
        assert log == [1010, 1045, 1050]
        assert driver.create_output_topic("out").read_values_to_list() == [1010, 1045, 1050]


def test_cancel_from_inside_the_punctuator():
    log = []

    class Once(Punctuating):
        def punctuate(self, timestamp):
            log.append(timestamp)
            self.handle.cancel()

    builder = StreamsBuilder()
    builder.stream("in").process(lambda: Once(PunctuationType.STREAM_TIME, 5, log))
    with TopologyTestDriver(builder.build()) as driver:
        inp = driver.create_input_topic("in")
        for ts in (1, 6, 11):
            inp.pipe_input("k", "v", ts)
    assert log == [1]


def test_schedule_rejects_too_small_interval():
    class Bad(Processor):
        def init(self, context):
            context.schedule(0, PunctuationType.STREAM_TIME, lambda ts: None)

        def process(self, record):
            pass

    builder = StreamsBuilder()
    builder.stream("in").process(Bad)
    with pytest.raises(ValueError, match="The minimum supported scheduling interval is 1 "
                                         "millisecond."):
        TopologyTestDriver(builder.build())


class Counter(Processor):
    def init(self, context):
        self.context = context
        self.store = context.get_state_store("counts")

    def process(self, record):
        count = (self.store.get(record.key) or 0) + 1
        self.store.put(record.key, count)
        self.context.forward(record.with_value(count))


def test_state_store_added_with_builder_and_named_in_process():
    builder = StreamsBuilder()
    builder.add_state_store(Stores.key_value_store_builder(
        Stores.in_memory_key_value_store("counts"), Serdes.String(), Serdes.Long()))
    builder.stream("in").process(Counter, "counts").to("out")
    topology = builder.build()
    assert "Processor: KSTREAM-PROCESSOR-0000000001 (stores: [counts])" in str(topology.describe())
    with TopologyTestDriver(topology, {"application.id": "app"}) as driver:
        inp = driver.create_input_topic("in")
        for key in ("a", "b", "a"):
            inp.pipe_input(key, "x")
        assert driver.create_output_topic("out").read_values_to_list() == [1, 1, 2]
        store = driver.get_key_value_store("counts")
        assert store.get("a") == 2
        assert list(store.all()) == [KeyValue("a", 2), KeyValue("b", 1)]
        changelog = driver.create_output_topic("app-counts-changelog")
        assert changelog.read_key_values_to_map() == {"a": 2, "b": 1}


def test_unconnected_and_unknown_store_access_errors():
    builder = StreamsBuilder()
    builder.add_state_store(Stores.key_value_store_builder(
        Stores.in_memory_key_value_store("counts")))
    builder.stream("in").process(Counter, "counts")
    builder.stream("in2").process(Counter)  # not connected
    with pytest.raises(StreamsException, match="Processor KSTREAM-PROCESSOR-0000000003 has no "
                                               "access to StateStore counts as the store is not "
                                               "connected to the processor"):
        TopologyTestDriver(builder.build())

    class Unknown(Processor):
        def init(self, context):
            context.get_state_store("nope")

        def process(self, record):
            pass

    builder = StreamsBuilder()
    builder.stream("in").process(Unknown)
    with pytest.raises(StreamsException, match="has no access to StateStore nope"):
        TopologyTestDriver(builder.build())


def test_store_not_connected_to_any_processor_is_an_invalid_topology():
    builder = StreamsBuilder()
    builder.add_state_store(Stores.key_value_store_builder(
        Stores.in_memory_key_value_store("lonely")))
    builder.stream("in").to("out")
    with pytest.raises(TopologyException, match="^Invalid topology: "):
        builder.build()


def test_process_rejects_instances_and_non_callables():
    builder = StreamsBuilder()
    stream = builder.stream("in")
    with pytest.raises(TypeError, match="supplier"):
        stream.process(Upper())
    with pytest.raises(TypeError):
        stream.process("not a supplier")
    with pytest.raises(TopologyException, match="Invalid topology: StateStore nope is not added"):
        stream.process(Upper, "nope")


def test_processor_close_is_called_on_driver_close():
    closed = []

    class Closing(Upper):
        def close(self):
            closed.append(True)

    builder = StreamsBuilder()
    builder.stream("in").process(Closing)
    driver = TopologyTestDriver(builder.build())
    driver.close()
    assert closed == [True]
