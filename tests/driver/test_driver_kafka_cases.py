"""Ports of TopologyTestDriverTest cases: punctuation sequences, recursive topologies,
sub-topology forwarding, captured topic names, pre-populated stores."""

from streamnb import (
    Processor,
    PunctuationType,
    Record,
    Serdes,
    Stores,
    StreamsBuilder,
    Topology,
    TopologyTestDriver,
)


class _Punctuated(Processor):
    def __init__(self, interval, kind, log):
        self.interval, self.kind, self.log = interval, kind, log

    def init(self, context):
        context.schedule(self.interval, self.kind, self.log.append)

    def process(self, record):
        pass


def _single_processor(kind, log):
    topology = Topology()
    topology.add_source("source", "source-topic-1")
    topology.add_processor("processor", lambda: _Punctuated(10, kind, log), "source")
    return topology


def test_should_punctuate_on_streams_time():
    log = []
    expected = []
    with TopologyTestDriver(_single_processor(PunctuationType.STREAM_TIME, log)) as driver:
        inp = driver.create_input_topic("source-topic-1")
        for ts, fires in ((42, True), (42, False), (51, True), (52, False), (61, True),
                          (65, False), (71, True), (72, False), (95, True), (101, True),
                          (102, False)):
            inp.pipe_input("key1", "value1", ts)
            if fires:
                expected.append(ts)
            assert log == expected, ts


def test_should_punctuate_on_wall_clock_time():
    log = []
    topology = _single_processor(PunctuationType.WALL_CLOCK_TIME, log)
    with TopologyTestDriver(topology, initial_wall_clock_time=0) as driver:
        expected = []
        for advance, fires_at in ((5, None), (9, 14), (1, None), (20, 35), (5, 40)):
            driver.advance_wall_clock_time(advance)
            if fires_at is not None:
                expected.append(fires_at)
            assert log == expected


def test_should_enqueue_later_outputs_after_earlier_ones():
    class Recursive(Processor):
        def init(self, context):
            self.context = context

        def process(self, record):
            if not record.value.startswith("recurse-"):
                self.context.forward(record.with_value("recurse-" + record.value),
                                     "recursiveSink")
            self.context.forward(record, "sink")

    topology = Topology()
    topology.add_source("source", "input")
    topology.add_processor("recursiveProcessor", Recursive, "source")
    topology.add_sink("recursiveSink", "input", "recursiveProcessor")
    topology.add_sink("sink", "output", "recursiveProcessor")
    with TopologyTestDriver(topology) as driver:
        driver.create_input_topic("input").pipe_input("B", "beta")
        assert driver.create_output_topic("output").read_key_values_to_list() == [
            ("B", "beta"), ("B", "recurse-beta")]


def test_should_forward_records_from_subtopology_to_subtopology():
    topology = Topology()
    topology.add_source("source", "source-topic-1")
    topology.add_sink("sink-1", "sink-topic-1", "source")
    topology.add_source("source-2", "sink-topic-1")
    topology.add_sink("sink-2", "sink-topic-2", "source-2")
    with TopologyTestDriver(topology) as driver:
        driver.create_input_topic("source-topic-1").pipe_input("k", "v", 7)
        assert driver.produced_topic_names() == {"sink-topic-1", "sink-topic-2"}
        record = driver.create_output_topic("sink-topic-2").read_record()
        assert (record.key, record.value, record.timestamp) == ("k", "v", 7)


def test_should_capture_sink_topic_names_only_when_written():
    builder = StreamsBuilder()
    builder.stream("in").filter(lambda k, v: v > 0).to("out")
    with TopologyTestDriver(builder.build()) as driver:
        assert driver.produced_topic_names() == set()
        driver.create_input_topic("in").pipe_input("k", 0)
        assert driver.produced_topic_names() == set()
        driver.create_input_topic("in").pipe_input("k", 1)
        assert driver.produced_topic_names() == {"out"}


class _MaxAggregator(Processor):
    def init(self, context):
        self.context = context
        context.schedule(60_000, PunctuationType.WALL_CLOCK_TIME, self.flush)
        context.schedule(10_000, PunctuationType.STREAM_TIME, self.flush)
        self.store = context.get_state_store("aggStore")

    def process(self, record):
        old = self.store.get(record.key)
        if old is None or record.value > old:
            self.store.put(record.key, record.value)

    def flush(self, timestamp):
        for key, value in self.store.all():
            self.context.forward(Record(key, value, timestamp))


def _max_driver():
    topology = Topology()
    topology.add_source("sourceProcessor", "input-topic")
    topology.add_processor("aggregator", _MaxAggregator, "sourceProcessor")
    topology.add_state_store(Stores.key_value_store_builder(
        Stores.in_memory_key_value_store("aggStore"), Serdes.String(), Serdes.Long()),
        "aggregator")
    topology.add_sink("sinkProcessor", "result-topic", "aggregator")
    driver = TopologyTestDriver(topology, {"default.key.serde": "string",
                                           "default.value.serde": "long"})
    store = driver.get_key_value_store("aggStore")
    store.put("a", 21)
    return driver, store


def test_pre_populated_store_and_updates():
    driver, store = _max_driver()
    with driver:
        inp = driver.create_input_topic("input-topic")
        out = driver.create_output_topic("result-topic")
        inp.pipe_input("a", 1, 9999)
        assert store.get("a") == 21
        assert out.read_key_value() == ("a", 21) and out.is_empty()
        inp.pipe_input("a", 42, 9999)
        assert store.get("a") == 42 and out.is_empty()
        inp.pipe_input("b", 21, 10000)
        assert out.read_key_values_to_list() == [("a", 42), ("b", 21)]


def test_punctuate_if_wall_clock_time_advances():
    driver, _ = _max_driver()
    with driver:
        driver.advance_wall_clock_time(60_000)
        out = driver.create_output_topic("result-topic")
        assert out.read_key_value() == ("a", 21) and out.is_empty()
