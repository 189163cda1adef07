"""The topology drawing: valid SVG, every node named, nothing overlapping, live counts."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

from streamnb import Materialized, Stores, StreamsBuilder, Topology
from streamnb.examples.wordcount import build_topology
from streamnb.notebook.topology_view import TopologyView, topology_svg

SVG = "{http://www.w3.org/2000/svg}"


def big_topology():
    """Over 30 nodes: a long chain, four branches, two aggregations, a merge, a store."""
    builder = StreamsBuilder()
    stream = builder.stream("events")
    for _ in range(8):
        stream = stream.map_values(lambda v: v)
    for j in range(4):
        stream.filter(lambda k, v, j=j: hash(v) % 4 == j).map_values(str).to(f"branch-{j}")
    other = builder.stream("more-events").filter(lambda k, v: v is not None)
    merged = stream.merge(other)
    merged.group_by(lambda k, v: v).count(materialized=Materialized.as_("by-value")) \
        .to_stream().to("value-counts")
    merged.select_key(lambda k, v: v).group_by_key().count().to_stream().to("key-counts")
    builder.add_state_store(Stores.key_value_store_builder(
        Stores.in_memory_key_value_store("seen")))
    merged.process(_Noop, "seen").to("processed")
    return builder.build()


class _Noop:
    def init(self, context):
        self.context = context

    def process(self, record):
        self.context.forward(record)

    def close(self):
        pass


def _boxes(root, css_class):
    out = []
    for group in root.iter(SVG + "g"):
        if css_class in (group.get("class") or "").split():
            rect = group.find(SVG + "rect")
            x, y = float(rect.get("x")), float(rect.get("y"))
            out.append((group.get("data-name"), x, y, x + float(rect.get("width")),
                        y + float(rect.get("height"))))
    return out


def _overlap(a, b):
    return a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]


def test_big_topology_draws_every_node_without_overlap():
    topology = big_topology()
    names = list(topology.nodes)
    assert len(names) >= 30
    started = time.perf_counter()
    svg = topology_svg(topology)
    elapsed = time.perf_counter() - started
    root = ET.fromstring(svg)  # well-formed XML
    texts = {t.text for t in root.iter(SVG + "text")}
    for name in names:
        assert name in texts, name
    for store in topology.stores:
        assert store in texts
    for topic in ("events", "more-events", "value-counts", "branch-3", "processed"):
        assert topic in texts
    nodes = _boxes(root, "node")
    assert len(nodes) == len(names) + len(topology.stores) + len(
        {t for spec in topology.nodes.values() for t in getattr(spec, "topics", [])}
        | {spec.topic for spec in topology.nodes.values() if getattr(spec, "topic", None)})
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            assert not _overlap(a, b), (a, b)
    subs = _boxes(root, "subtopology")
    assert len(subs) == len(topology.subtopologies())
    for i, a in enumerate(subs):
        for b in subs[i + 1:]:
            assert not _overlap(a, b)
    assert elapsed < 1.0


def test_counts_are_drawn_and_text_form_is_describe():
    topology = build_topology()
    view = TopologyView(topology, title="wordcount")
    source = "KSTREAM-SOURCE-0000000000"
    drawn = view.svg({source: 12345})
    assert "12,345 rec" in drawn
    assert "rec</tspan>" not in view.svg()
    assert str(view) == str(topology.describe())
    assert view._repr_html_().startswith("<div") and "<svg" in view._repr_html_()
    root = ET.fromstring(drawn)
    internal = [g for g in root.iter(SVG + "g") if g.get("data-name") == "counts-store-repartition"]
    assert internal and "Topic (internal)" in "".join(internal[0].itertext())


def test_dynamic_sink_label_is_escaped():
    topology = Topology().add_source("src", "in").add_sink("out", lambda k, v, c: "x", "src")
    svg = topology_svg(topology)
    ET.fromstring(svg)  # the extractor's "<lambda>" name does not break the XML
    assert "&lt;lambda&gt;" in svg
