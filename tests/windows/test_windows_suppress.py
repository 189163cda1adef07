"""suppress(): Kafka's SuppressScenarioTest / SuppressTopologyTest expectations."""

from __future__ import annotations

import pytest

from streamnb import (
    Materialized,
    SessionWindows,
    StreamsBuilder,
    Suppressed,
    TimeWindows,
    TopologyTestDriver,
)
from streamnb.dsl.suppress import BufferConfig
from streamnb.errors import StreamsException, TopologyException

ANONYMOUS_FINAL_TOPOLOGY = """Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input])
      --> KSTREAM-KEY-SELECT-0000000001
    Processor: KSTREAM-KEY-SELECT-0000000001 (stores: [])
      --> counts-repartition-filter
      <-- KSTREAM-SOURCE-0000000000
    Processor: counts-repartition-filter (stores: [])
      --> counts-repartition-sink
      <-- KSTREAM-KEY-SELECT-0000000001
    Sink: counts-repartition-sink (topic: counts-repartition)
      <-- counts-repartition-filter

  Sub-topology: 1
    Source: counts-repartition-source (topics: [counts-repartition])
      --> KSTREAM-AGGREGATE-0000000002
    Processor: KSTREAM-AGGREGATE-0000000002 (stores: [counts])
      --> KTABLE-SUPPRESS-0000000006
      <-- counts-repartition-source
    Processor: KTABLE-SUPPRESS-0000000006 (stores: [KTABLE-SUPPRESS-STATE-STORE-0000000007])
      --> KTABLE-TOSTREAM-0000000008
      <-- KSTREAM-AGGREGATE-0000000002
    Processor: KTABLE-TOSTREAM-0000000008 (stores: [])
      --> KSTREAM-MAP-0000000009
      <-- KTABLE-SUPPRESS-0000000006
    Processor: KSTREAM-MAP-0000000009 (stores: [])
      --> KSTREAM-SINK-0000000010
      <-- KTABLE-TOSTREAM-0000000008
    Sink: KSTREAM-SINK-0000000010 (topic: output-suppressed)
      <-- KSTREAM-MAP-0000000009

"""

NAMED_INTERMEDIATE_TOPOLOGY = """Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [input])
      --> KSTREAM-AGGREGATE-0000000002
    Processor: KSTREAM-AGGREGATE-0000000002 (stores: [KSTREAM-AGGREGATE-STATE-STORE-0000000001])
      --> asdf
      <-- KSTREAM-SOURCE-0000000000
    Processor: asdf (stores: [asdf-store])
      --> KTABLE-TOSTREAM-0000000003
      <-- KSTREAM-AGGREGATE-0000000002
    Processor: KTABLE-TOSTREAM-0000000003 (stores: [])
      --> KSTREAM-SINK-0000000004
      <-- asdf
    Sink: KSTREAM-SINK-0000000004 (topic: output)
      <-- KTABLE-TOSTREAM-0000000003

"""


def test_describe_anonymous_final_suppression_of_session_count() -> None:
    builder = StreamsBuilder()
    (builder.stream("input").group_by(lambda k, v: k)
     .windowed_by(SessionWindows.of_inactivity_gap_and_grace(5, 5))
     .count(materialized=Materialized.as_("counts").with_caching_disabled())
     .suppress(Suppressed.until_window_closes(BufferConfig.unbounded()))
     .to_stream().map(lambda k, v: (str(k), v)).to("output-suppressed"))
    assert str(builder.build().describe()) == ANONYMOUS_FINAL_TOPOLOGY


def test_describe_named_intermediate_suppression() -> None:
    builder = StreamsBuilder()
    (builder.stream("input").group_by_key().count()
     .suppress(Suppressed.until_time_limit(1000, BufferConfig.unbounded()).with_name("asdf"))
     .to_stream().to("output"))
    assert str(builder.build().describe()) == NAMED_INTERMEDIATE_TOPOLOGY


def test_final_results_for_time_windows() -> None:
    builder = StreamsBuilder()
    counts = (builder.stream("input").group_by(lambda k, v: k)
              .windowed_by(TimeWindows.of_size_and_grace(2, 1))
              .count(materialized=Materialized.as_("counts").with_caching_disabled()))
    (counts.suppress(Suppressed.until_window_closes(BufferConfig.unbounded()))
     .to_stream().map(lambda k, v: (str(k), v)).to("output-suppressed"))
    counts.to_stream().map(lambda k, v: (str(k), v)).to("output-raw")
    with TopologyTestDriver(builder.build()) as driver:
        topic = driver.create_input_topic("input")
        for ts in (0, 1, 2, 1, 0, 5, 0):  # the last one is beyond the grace period
            topic.pipe_input("k1", "v1", ts)
        raw = [(r.key, r.value, r.timestamp)
               for r in driver.create_output_topic("output-raw").read_records_to_list()]
        assert raw == [("[k1@0/2]", 1, 0), ("[k1@0/2]", 2, 1), ("[k1@2/4]", 1, 2),
                       ("[k1@0/2]", 3, 1), ("[k1@0/2]", 4, 1), ("[k1@4/6]", 1, 5)]
        final = [(r.key, r.value, r.timestamp) for r in
                 driver.create_output_topic("output-suppressed").read_records_to_list()]
        assert final == [("[k1@0/2]", 4, 1), ("[k1@2/4]", 1, 2)]
        assert driver.metrics()["dropped-records"] == {"expired window": 1}


def test_until_time_limit_emits_latest_value_per_key() -> None:
    builder = StreamsBuilder()
    (builder.stream("input").group_by_key().count()
     .suppress(Suppressed.until_time_limit(2, BufferConfig.unbounded()))
     .to_stream().to("out"))
    with TopologyTestDriver(builder.build()) as driver:
        topic = driver.create_input_topic("input")
        topic.pipe_input("a", "x", 0)
        topic.pipe_input("a", "x", 1)
        topic.pipe_input("b", "x", 1)
        out = driver.create_output_topic("out")
        assert out.read_records_to_list() == []
        topic.pipe_input("c", "x", 2)  # a's buffer time 0 <= 2 - 2: a leaves with its latest
        assert [(r.key, r.value, r.timestamp) for r in out.read_records_to_list()] == [
            ("a", 2, 1)]
        topic.pipe_input("c", "x", 10)
        assert [(r.key, r.value) for r in out.read_records_to_list()] == [("b", 1), ("c", 2)]


def test_bounded_buffer_emits_early_or_shuts_down() -> None:
    def build(config: BufferConfig) -> TopologyTestDriver:
        builder = StreamsBuilder()
        (builder.stream("input").group_by_key().count()
         .suppress(Suppressed.until_time_limit(1000, config)).to_stream().to("out"))
        return TopologyTestDriver(builder.build())

    with build(BufferConfig.max_records(1)) as driver:
        topic = driver.create_input_topic("input")
        topic.pipe_input("a", "x", 0)
        topic.pipe_input("b", "x", 1)  # two keys > 1: the oldest (a) is emitted early
        assert driver.create_output_topic("out").read_key_values_to_list() == [("a", 1)]
    with build(BufferConfig.max_records(1).shut_down_when_full()) as driver:
        topic = driver.create_input_topic("input")
        topic.pipe_input("a", "x", 0)
        with pytest.raises(StreamsException, match=r"buffer exceeded its max capacity. "
                                                   r"Currently \[2/1\] records"):
            topic.pipe_input("b", "x", 1)


def test_until_window_closes_needs_windowed_table_and_strict_buffer() -> None:
    builder = StreamsBuilder()
    table = builder.stream("input").group_by_key().count()
    with pytest.raises(TopologyException, match="only defined for windowed computations"):
        table.suppress(Suppressed.until_window_closes(BufferConfig.unbounded()))
    with pytest.raises(ValueError, match="strict buffer"):
        Suppressed.until_window_closes(BufferConfig.max_records(10))
    with pytest.raises(TypeError, match="suppress takes a Suppressed"):
        table.suppress("final")
