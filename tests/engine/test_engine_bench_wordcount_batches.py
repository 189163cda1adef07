"""The word count benchmark runs poll batches of lines before draining the repartition
topic; that must give exactly the records of draining after every line (and of a plain
dict count), or the benchmark would measure something else."""

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

from _common import InProcessRunner, word_lines  # noqa: E402
from bench_wordcount import POLL_LINES  # noqa: E402

from streamnb.examples.wordcount import INPUT_TOPIC, OUTPUT_TOPIC, build_topology  # noqa: E402


def _outputs(lines, batch_size):
    runner = InProcessRunner(build_topology())
    runner.run(INPUT_TOPIC, [(None, line, index) for index, line in enumerate(lines)],
               batch_size)
    return runner.collector.outputs[OUTPUT_TOPIC], runner.collector.changelog_records


@pytest.mark.parametrize("batch_size", [7, POLL_LINES, 1000])
def test_poll_batches_give_exactly_the_per_line_output(batch_size):
    lines = word_lines(1_500, vocabulary=300, seed=7)
    per_line, per_line_changelog = _outputs(lines, 1)
    batched, batched_changelog = _outputs(lines, batch_size)
    assert batched == per_line
    assert batched_changelog == per_line_changelog  # latest value per key, sent at commit

    counts: dict[str, int] = {}
    expected = []
    for index, line in enumerate(lines):
        for word in line.lower().split():
            counts[word] = counts.get(word, 0) + 1
            expected.append((word, counts[word], index))
    assert per_line == expected
