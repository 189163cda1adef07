"""Fusion writes a selector that only returns one of its arguments as that argument (no
call); anything else, however close, must still be called."""

import functools

import pytest

from streamnb import StreamsBuilder, TopologyTestDriver
from streamnb.engine.fusion import returned_argument
from streamnb.engine.task import Task
from streamnb.topology.topology import Subtopology
from tests._collectors import ListCollector

CONSTANT = "c"


def _returns_value(a, b):
    return b


def _closure():
    captured = "x"
    return lambda k, v: captured


@pytest.mark.parametrize("fn, index", [
    (lambda _key, word: word, 1),
    (lambda k, v: k, 0),
    (_returns_value, 1),
])
def test_functions_returning_an_argument_are_recognised(fn, index):
    assert returned_argument(fn, 2) == index


@pytest.mark.parametrize("fn", [
    lambda k, v: v.upper(),
    lambda k, v: None,
    lambda k, v: CONSTANT,  # a global, not an argument
    lambda k, v: (k, v)[1],
    lambda k, v=1: v,  # defaults
    lambda *a: a[1],
    lambda k, *, v=1: v,
    _closure(),
    functools.partial(lambda a, k, v: v, 0),
    str.upper,
    max,
])
def test_anything_else_is_still_called(fn):
    assert returned_argument(fn, 2) is None


def test_argument_count_must_match():
    assert returned_argument(lambda v: v, 2) is None
    assert returned_argument(lambda v: v, 1) == 0


def _task(selector):
    builder = StreamsBuilder()
    (builder.stream("in").flat_map_values(str.split).group_by(selector).count().to_stream()
     .to("out"))
    topology = builder.build()
    group = topology.subtopologies()[0]
    task = Task("0_0", topology, Subtopology(0, group.nodes, [], [], group.stores),
                ListCollector(), "app")
    return task


def test_group_by_value_selector_is_not_called_in_the_batch_loop():
    task = _task(lambda _key, word: word)
    source = task.batch_entry("in").source
    assert "_sel" not in source  # the word itself is the new key
    task.batch_entry("in")([(None, "a b a", 5)])
    assert [r[1:3] for r in task.ctx.collector.out] == [("a", "a"), ("b", "b"), ("a", "a")]


def test_other_selectors_are_still_called():
    task = _task(lambda _key, word: word.upper())
    assert "_sel" in task.batch_entry("in").source
    task.batch_entry("in")([(None, "a b", 5)])
    assert [r[1:3] for r in task.ctx.collector.out] == [("A", "a"), ("B", "b")]


def _driver_output(selector, fused, level="INFO"):
    builder = StreamsBuilder()
    (builder.stream("in").flat_map_values(str.split).select_key(selector)
     .group_by_key().count().to_stream().to("out"))
    config = {"operator.fusion": fused, "metrics.recording.level": level}
    with TopologyTestDriver(builder.build(), config) as driver:
        source = driver.create_input_topic("in")
        for index, line in enumerate(["a b a", "", "c b"]):
            source.pipe_input(f"k{index}", line, index)
        counts = driver._task.node_process_totals()
        return driver.create_output_topic("out").read_records_to_list(), counts


@pytest.mark.parametrize("selector", [lambda k, v: v, lambda k, v: k])
def test_inlined_selectors_give_the_unfused_records_and_node_counts(selector):
    fused, fused_counts = _driver_output(selector, True, "DEBUG")
    plain, plain_counts = _driver_output(selector, False, "DEBUG")
    assert fused == plain and fused
    assert fused_counts == plain_counts
    assert any(name.startswith("KSTREAM-KEY-SELECT") and n == 5
               for name, n in fused_counts.items())
