"""``Topology.describe()``: Kafka's TopologyDescription, objects and text.

The text form matches Kafka's ``TopologyDescription.toString()`` so that what users read in
Kafka's documentation (and paste into tests) is what streamnb prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._java_order import JavaTreeSet, java_hash_order
from .topology import ProcessorSpec, SinkSpec, SourceSpec, Topology


def java_hash_set_order(items: list[str]) -> list[str]:
    """The iteration order of a ``java.util.HashSet`` holding ``items``.

    Kafka prints source topics and processor stores from hash sets; replaying Java's bucket
    order makes multi-topic and multi-store lines read exactly as Kafka prints them.
    """
    return java_hash_order(items)


@dataclass(eq=False)
class Node:
    name: str
    predecessors: list[Node] = field(default_factory=list)
    successors: list[Node] = field(default_factory=list)
    size: int = 1

    def _names(self, nodes: list[Node]) -> str:
        # The lists are already in Kafka's (insertion-time) TreeSet order: see describe().
        return ", ".join(n.name for n in nodes) if nodes else "none"


@dataclass(eq=False)
class Source(Node):
    topics: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        topics = "[" + ", ".join(java_hash_set_order(self.topics)) + "]"
        return f"Source: {self.name} (topics: {topics})\n      --> {self._names(self.successors)}"


@dataclass(eq=False)
class Processor(Node):
    stores: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        stores = "[" + ", ".join(java_hash_set_order(self.stores)) + "]"
        return (
            f"Processor: {self.name} (stores: {stores})\n"
            f"      --> {self._names(self.successors)}\n"
            f"      <-- {self._names(self.predecessors)}"
        )


@dataclass(eq=False)
class Sink(Node):
    topic: str | None = None
    extractor: str | None = None

    def __str__(self) -> str:
        where = f"topic: {self.topic}" if self.topic is not None else (
            f"extractor class: {self.extractor}"
        )
        return f"Sink: {self.name} ({where})\n      <-- {self._names(self.predecessors)}"


def _ordered(nodes: list[Node]) -> list[Node]:
    # Kafka's NodeComparator: larger sub-tree first, then by name.
    return sorted(nodes, key=lambda n: (-n.size, n.name))


@dataclass
class SubtopologyDescription:
    id: int
    nodes: list[Node]

    def __str__(self) -> str:
        body = "".join(f"    {node}\n" for node in _ordered(self.nodes))
        return f"Sub-topology: {self.id}\n{body}\n"


@dataclass
class GlobalStoreDescription:
    id: int
    source: Source
    processor: Processor

    def __str__(self) -> str:
        return (
            f"Sub-topology: {self.id} for global store (will not generate tasks)\n"
            f"    {self.source}\n    {self.processor}\n"
        )


@dataclass
class TopologyDescription:
    """Sub-topologies and global stores of a topology; ``str()`` gives Kafka's text."""

    subtopologies: list[SubtopologyDescription]
    global_stores: list[GlobalStoreDescription]

    def __str__(self) -> str:
        parts = sorted(
            [*self.subtopologies, *self.global_stores], key=lambda part: part.id
        )
        return "Topologies:\n " + "".join(f"  {part}" for part in parts)

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer, cycle) -> None:  # IPython shows the text, not the dataclass
        printer.text(str(self))


def _describe_node(topology: Topology, name: str) -> Node:
    spec = topology.nodes[name]
    if isinstance(spec, SourceSpec):
        return Source(name, topics=list(spec.topics))
    if isinstance(spec, SinkSpec):
        if spec.topic is not None:
            return Sink(name, topic=spec.topic)
        extractor = getattr(spec.topic_extractor, "__qualname__", repr(spec.topic_extractor))
        return Sink(name, extractor=extractor)
    assert isinstance(spec, ProcessorSpec)
    return Processor(name, stores=list(spec.stores))


def _compare(a: Node, b: Node) -> int:
    """Kafka's ``NodeComparator``: larger size first, then by name."""
    if a is b:
        return 0
    if a.size != b.size:
        return b.size - a.size
    return (a.name > b.name) - (a.name < b.name)


def _update_size(node: Node, delta: int, preds: dict[int, JavaTreeSet]) -> None:
    node.size += delta
    for pred in preds[id(node)].items():
        _update_size(pred, delta, preds)


def _describe_subtopology(topology: Topology, names: list[str]) -> list[Node]:
    """Replay Kafka's ``describeSubtopology``: nodes in Java ``HashMap`` order, each linked
    to its declared parents while sizes grow, into insertion-time-ordered tree sets."""
    by_name = {name: _describe_node(topology, name) for name in names}
    preds = {id(node): JavaTreeSet(_compare) for node in by_name.values()}
    succs = {id(node): JavaTreeSet(_compare) for node in by_name.values()}
    for name in java_hash_order(names):
        node = by_name[name]
        for parent_name in topology.nodes[name].parents:
            parent = by_name[parent_name]
            preds[id(node)].add(parent)
            succs[id(parent)].add(node)
            _update_size(parent, node.size, preds)
    for node in by_name.values():
        node.predecessors = preds[id(node)].items()
        node.successors = succs[id(node)].items()
    return list(by_name.values())


def describe(topology: Topology) -> TopologyDescription:
    """Build the description of ``topology`` (numbering global stores after sub-topologies
    in the order Kafka does: one shared id sequence)."""
    subtopologies = [
        SubtopologyDescription(group.id, _describe_subtopology(topology, list(group.nodes)))
        for group in topology.subtopologies()
    ]
    globals_ = []
    ids = topology.global_store_ids()
    for name, spec in topology.global_stores.items():
        source = Source(spec.source.name, topics=list(spec.source.topics))
        processor = Processor(spec.processor.name, stores=[name])
        source.successors.append(processor)
        processor.predecessors.append(source)
        globals_.append(GlobalStoreDescription(ids[name], source, processor))
    return TopologyDescription(subtopologies, globals_)
