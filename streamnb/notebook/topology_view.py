"""Draw a topology as SVG: sub-topologies as boxes, sources, processors, sinks, stores, topics.

The drawing is plain SVG text made in Python (no graphviz, no JavaScript), so it shows in
JupyterLab, Notebook 7, exported HTML and GitHub alike. ``TopologyView`` is what a
``%%stream`` cell displays: front ends render its SVG, a terminal prints ``describe()``.
Live record counts are drawn when a ``counts`` mapping (node name -> records) is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from ..topology.topology import ProcessorSpec, SinkSpec, SourceSpec, Topology
from ._layout import Layout, LayoutNode, layout

__all__ = ["TopologyView", "topology_svg", "topology_graph"]

_CHAR_W = 6.6  # px per character at font-size 11 (monospace)
_NODE_H = 34.0
_STYLE = {
    # kind: (fill, stroke)
    "source": ("#e3f4e1", "#3c8d36"),
    "processor": ("#e4eefb", "#3a6fb0"),
    "sink": ("#fdebd9", "#c46a12"),
    "topic": ("#f2f2f2", "#777777"),
    "store": ("#fff7cc", "#b09000"),
}
_KIND_TAG = {"source": "Source", "processor": "Processor", "sink": "Sink", "store": "Store",
             "topic": "Topic"}


@dataclass
class GraphNode:
    """One drawn element: a topology node, a topic or a store."""

    id: str
    name: str
    kind: str  # source / processor / sink / topic / store
    band: int
    internal: bool = False


@dataclass
class TopologyGraph:
    """What the drawing shows, independent of coordinates."""

    nodes: list[GraphNode]
    edges: list[tuple[str, str]]  # data flow
    store_links: list[tuple[str, str]]  # processor id -> store id
    bands: dict[int, str]  # band -> box title


def _node_id(name: str) -> str:
    return "n:" + name


def topology_graph(topology: Topology) -> TopologyGraph:
    """The nodes and edges to draw for ``topology`` (one band per sub-topology)."""
    if not isinstance(topology, Topology):
        raise TypeError(
            f"expected a Topology (builder.build()), got {type(topology).__name__}"
        )
    nodes: list[GraphNode] = []
    edges: list[tuple[str, str]] = []
    links: list[tuple[str, str]] = []
    bands: dict[int, str] = {}
    band_of: dict[str, int] = {}
    for sub in topology.subtopologies():
        bands[sub.id] = f"Sub-topology: {sub.id}"
        for name in sub.nodes:
            band_of[name] = sub.id
    for store, sub_id in topology.global_store_ids().items():
        bands[sub_id] = f"Sub-topology: {sub_id} for global store {store}"
        spec = topology.global_stores[store]
        band_of[spec.source.name] = sub_id
        band_of[spec.processor.name] = sub_id

    topics: dict[str, GraphNode] = {}
    internal = topology.internal_topics

    def topic(name: str, band: int) -> str:
        node = topics.get(name)
        if node is None:
            node = GraphNode("t:" + name, name, "topic", band, internal=name in internal)
            topics[name] = node
            nodes.append(node)
        return node.id

    # Readers claim a topic first, so a repartition topic sits with the sub-topology it feeds.
    for name, spec in topology.nodes.items():
        if isinstance(spec, SourceSpec):
            for t in spec.topics:
                topic(t, band_of[name])
    stores_seen: dict[str, GraphNode] = {}
    for name, spec in topology.nodes.items():
        band = band_of[name]
        kind = ("source" if isinstance(spec, SourceSpec)
                else "sink" if isinstance(spec, SinkSpec) else "processor")
        nodes.append(GraphNode(_node_id(name), name, kind, band))
        if isinstance(spec, SourceSpec):
            edges.extend((topics[t].id, _node_id(name)) for t in spec.topics)
        for parent in spec.parents:
            edges.append((_node_id(parent), _node_id(name)))
        if isinstance(spec, SinkSpec):
            if spec.topic is not None:
                edges.append((_node_id(name), topic(spec.topic, band)))
            else:
                extractor = getattr(spec.topic_extractor, "__qualname__", "topic extractor")
                edges.append((_node_id(name), topic(f"<{extractor}>", band)))
        if isinstance(spec, ProcessorSpec):
            for store in spec.stores:
                node = stores_seen.get(store)
                if node is None:
                    node = GraphNode("s:" + store, store, "store", band)
                    stores_seen[store] = node
                    nodes.append(node)
                links.append((_node_id(name), node.id))
    return TopologyGraph(nodes, edges, links, bands)


def _label_width(node: GraphNode) -> float:
    return max(len(node.name), len(_KIND_TAG[node.kind]) + 12) * _CHAR_W + 20


def _layout_graph(graph: TopologyGraph) -> Layout:
    side: dict[str, list[str]] = {}
    for proc, store in graph.store_links:
        side.setdefault(store, []).append(proc)
    items = [LayoutNode(n.id, n.band, _label_width(n), side_of=side.get(n.id, []))
             for n in graph.nodes]
    return layout(items, graph.edges)


def _fmt_count(count: float) -> str:
    if count >= 10_000_000:
        return f"{count / 1e6:.0f}M"
    if count >= 100_000:
        return f"{count / 1e3:.0f}k"
    return f"{int(count):,}"


def _edge_path(x1: float, y1: float, x2: float, y2: float) -> str:
    mid = (y1 + y2) / 2
    return f"M{x1:.1f},{y1:.1f} C{x1:.1f},{mid:.1f} {x2:.1f},{mid:.1f} {x2:.1f},{y2:.1f}"


def _render(graph: TopologyGraph, lay: Layout, counts: Mapping[str, float] | None,
            title: str | None) -> str:
    half = _NODE_H / 2
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="streamnb-topology" '
        f'width="{lay.width:.0f}" height="{lay.height:.0f}" '
        f'viewBox="0 0 {lay.width:.0f} {lay.height:.0f}" '
        'font-family="Menlo, Consolas, DejaVu Sans Mono, monospace" font-size="11">',
        '<defs><marker id="snb-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#555"/></marker></defs>',
        f'<rect width="{lay.width:.0f}" height="{lay.height:.0f}" fill="#ffffff"/>',
    ]
    if title:
        out.append(f'<text x="12" y="18" font-size="13" font-weight="bold" fill="#222">'
                   f'{escape(title)}</text>')
    # Sub-topology boxes around their non-topic members.
    for band, label in sorted(graph.bands.items()):
        members = [lay.nodes[n.id] for n in graph.nodes if n.band == band and n.kind != "topic"]
        if not members:
            continue
        left, right = lay.band_x[band]
        top = min(m.y for m in members) - half - 22
        bottom = max(m.y for m in members) + half + 10
        out.append(f'<g class="subtopology"><rect x="{left - 8:.1f}" y="{top:.1f}" '
                   f'width="{right - left + 16:.1f}" height="{bottom - top:.1f}" rx="8" '
                   'fill="#fafbfd" stroke="#9aa7b8" stroke-dasharray="5,3"/>'
                   f'<text x="{left:.1f}" y="{top + 14:.1f}" fill="#4a5668" '
                   f'font-weight="bold">{escape(label)}</text></g>')
    for u, v in graph.edges:
        a, b = lay.nodes[u], lay.nodes[v]
        if (u, v) in lay.back_edges or b.y <= a.y:
            path = (f"M{a.x:.1f},{a.y + half:.1f} C{a.x + 60:.1f},{a.y + 80:.1f} "
                    f"{b.x + 60:.1f},{b.y - 80:.1f} {b.x:.1f},{b.y - half:.1f}")
            dash = ' stroke-dasharray="4,3"'
        else:
            path, dash = _edge_path(a.x, a.y + half, b.x, b.y - half), ""
        out.append(f'<path d="{path}" fill="none" stroke="#666" stroke-width="1.2"{dash} '
                   'marker-end="url(#snb-arrow)"/>')
    for proc, store in graph.store_links:
        a, b = lay.nodes[proc], lay.nodes[store]
        x1 = a.x + (a.width / 2 if b.x > a.x else -a.width / 2) if a.y == b.y else a.x
        x2 = b.x - (b.width / 2 if b.x > a.x else -b.width / 2) if a.y == b.y else b.x
        y1 = a.y if a.y == b.y else a.y + (half if b.y > a.y else -half)
        y2 = b.y if a.y == b.y else b.y - (half if b.y > a.y else -half)
        out.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" '
                   'stroke="#b09000" stroke-width="1.2" stroke-dasharray="3,3"/>')
    for node in graph.nodes:
        pos = lay.nodes[node.id]
        fill, stroke = _STYLE[node.kind]
        x, y, w = pos.x - pos.width / 2, pos.y - half, pos.width
        rx = half if node.kind == "topic" else (10 if node.kind == "store" else 4)
        dash = ' stroke-dasharray="4,2"' if node.internal else ""
        count = None if counts is None or node.kind in ("topic", "store") else (
            counts.get(node.name))
        tag = _KIND_TAG[node.kind] + (" (internal)" if node.internal else "")
        out.append(
            f'<g class="node {node.kind}" data-name="{escape(node.name)}">'
            f"<title>{escape(tag)}: {escape(node.name)}</title>"
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{_NODE_H:.0f}" '
            f'rx="{rx}" fill="{fill}" stroke="{stroke}" stroke-width="1.3"{dash}/>'
            f'<text x="{pos.x:.1f}" y="{pos.y - 3:.1f}" text-anchor="middle" fill="#111">'
            f"{escape(node.name)}</text>"
            f'<text x="{pos.x:.1f}" y="{pos.y + 11:.1f}" text-anchor="middle" fill="#555" '
            f'font-size="9">{escape(tag)}'
            + (f' · <tspan class="count" fill="#b3261e" font-weight="bold">'
               f"{_fmt_count(count)} rec</tspan>" if count is not None else "")
            + "</text></g>"
        )
    out.append("</svg>")
    return "".join(out)


def topology_svg(topology: Topology, counts: Mapping[str, float] | None = None,
                 title: str | None = None) -> str:
    """The SVG drawing of ``topology``; ``counts`` adds records seen per node name."""
    graph = topology_graph(topology)
    return _render(graph, _layout_graph(graph), counts, title)


class TopologyView:
    """A topology, displayed drawn (SVG/HTML) in front ends and as ``describe()`` text else.

    The layout is computed once; ``svg(counts)`` redraws it with live counts cheaply, which is
    what the live topology widget does a few times per second.
    """

    def __init__(self, topology: Topology, title: str | None = None,
                 counts: Mapping[str, float] | None = None) -> None:
        self.topology = topology
        self.title = title
        self.counts = dict(counts) if counts else None
        self._graph = topology_graph(topology)
        self._layout = _layout_graph(self._graph)

    @property
    def node_names(self) -> list[str]:
        """Names of the drawn topology nodes (no topics or stores)."""
        return [n.name for n in self._graph.nodes if n.kind not in ("topic", "store")]

    def describe(self) -> Any:
        return self.topology.describe()

    def svg(self, counts: Mapping[str, float] | None = None) -> str:
        return _render(self._graph, self._layout, counts if counts is not None else self.counts,
                       self.title)

    def html(self, counts: Mapping[str, float] | None = None) -> str:
        # Scroll instead of shrinking: a 40-node drawing scaled to the cell width is unreadable.
        return f'<div style="overflow:auto;max-width:100%">{self.svg(counts)}</div>'

    def _repr_svg_(self) -> str:
        return self.svg()

    def _repr_html_(self) -> str:
        return self.html()

    def __str__(self) -> str:
        return str(self.topology.describe())

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))
