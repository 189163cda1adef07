"""The seed article's word count: its exact 11 updates, ending with kafka 3."""

from streamnb.examples.wordcount import SENTENCES, build_topology, run_with_test_driver

EXPECTED = [
    ("all", 1), ("streams", 1), ("lead", 1), ("to", 1), ("kafka", 1),
    ("hello", 1), ("kafka", 2), ("streams", 2),
    ("join", 1), ("kafka", 3), ("summit", 1),
]


def test_seed_word_count_emits_the_eleven_updates(capsys):
    assert run_with_test_driver(SENTENCES) == EXPECTED
    printed = capsys.readouterr().out.splitlines()
    assert printed[-1] == "summit\t1"
    assert len(printed) == 11


def test_word_count_topology_is_two_subtopologies_linked_by_a_repartition_topic():
    topology = build_topology()
    groups = topology.subtopologies()
    assert len(groups) == 2
    assert groups[0].sink_topics == ["counts-store-repartition"]
    assert groups[1].source_topics == ["counts-store-repartition"]
    assert "counts-store" in groups[1].stores


def test_readme_main_job_runs_live_on_the_embedded_broker():
    """README's first command: the word count live on the embedded default."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "streamnb.examples.wordcount", "--seconds", "0"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("word count running on the embedded broker at 127.0.0.1:")
    updates = [tuple(line.split("\t")) for line in lines[1:]]
    # Partitions may interleave words, but each word's counts arrive in order.
    assert sorted(updates) == sorted((w, str(c)) for w, c in EXPECTED)
    kafka = [count for word, count in updates if word == "kafka"]
    assert kafka == ["1", "2", "3"]
