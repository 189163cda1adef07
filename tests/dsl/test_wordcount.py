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
