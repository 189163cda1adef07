"""The topology graph: sources, processors, sinks and stores, split into sub-topologies.

This is Kafka's low-level ``Topology`` API (``add_source``/``add_processor``/``add_sink``/
``add_state_store``); the DSL writes into it. It only describes the graph: the engine turns
each sub-topology into tasks, one per input partition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import TopologyException
from ._naming import validate_name

__all__ = ["Topology", "SourceSpec", "ProcessorSpec", "SinkSpec", "Subtopology", "GlobalStoreSpec"]


@dataclass(eq=False)
class NodeSpec:
    name: str
    parents: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    # Set on the source and updater of a global store (they generate no tasks).
    global_store: str | None = None


@dataclass(eq=False)
class SourceSpec(NodeSpec):
    topics: list[str] = field(default_factory=list)
    key_serde: Any = None
    value_serde: Any = None
    timestamp_extractor: Callable[..., int] | None = None
    offset_reset: str | None = None


@dataclass(eq=False)
class ProcessorSpec(NodeSpec):
    # Returns an engine node (DSL) or a user ``Processor`` (Processor API).
    factory: Callable[[], Any] | None = None
    stores: list[str] = field(default_factory=list)


@dataclass(eq=False)
class SinkSpec(NodeSpec):
    topic: str | None = None
    topic_extractor: Callable[..., str] | None = None
    key_serde: Any = None
    value_serde: Any = None
    partitioner: Callable[..., int | None] | None = None


@dataclass(eq=False)
class GlobalStoreSpec:
    """A global store: a source topic replicated whole to every instance, with its updater."""

    store_builder: Any
    source: SourceSpec
    processor: ProcessorSpec


@dataclass
class Subtopology:
    """One connected part of the graph; the engine makes one task per partition of it."""

    id: int
    nodes: list[str]
    source_topics: list[str]
    sink_topics: list[str]
    stores: list[str]


@dataclass(eq=False)
class _StoreEntry:
    builder: Any
    processors: list[str] = field(default_factory=list)
    # Where changelog records go; a source-table store may reuse its input topic.
    changelog_topic: str | None = None


class Topology:
    """A processing graph. Build it with ``StreamsBuilder`` or with the methods below."""

    def __init__(self) -> None:
        self._nodes: dict[str, NodeSpec] = {}
        self._stores: dict[str, _StoreEntry] = {}
        self._global_stores: dict[str, GlobalStoreSpec] = {}
        self._topic_to_source: dict[str, str] = {}
        # Raw names of repartition topics; at run time they get the application id prefix.
        self.internal_topics: set[str] = set()
        # Repartition topics a sink must create with a given partition count (None = as input).
        self.internal_topic_partitions: dict[str, int | None] = {}
        # Groups of topics that must have equal partition counts (joins, repartitions).
        self.copartition_groups: list[set[str]] = []
        self._groups_cache: list[Subtopology] | None = None
        self._global_ids: dict[str, int] = {}

    # -- building ---------------------------------------------------------------------------
    def _add_node(self, spec: NodeSpec, parent_names: Iterable[str]) -> None:
        validate_name(spec.name, "processor name")
        if spec.name in self._nodes:
            raise TopologyException(f"Processor {spec.name} is already added.")
        parents = list(parent_names)
        for parent in parents:
            if parent == spec.name:
                raise TopologyException(f"Processor {spec.name} cannot be a predecessor of itself.")
            if parent not in self._nodes:
                raise TopologyException(
                    f"Parent processor {parent} is not added yet for {spec.name}: "
                    "add parents before their children"
                )
            if isinstance(self._nodes[parent], SinkSpec):
                raise TopologyException(f"Sink {parent} cannot be used a parent.")
        spec.parents = parents
        self._nodes[spec.name] = spec
        for parent in parents:
            self._nodes[parent].children.append(spec.name)
        self._groups_cache = None

    def add_source(
        self,
        name: str,
        *topics: str,
        key_serde: Any = None,
        value_serde: Any = None,
        timestamp_extractor: Callable[..., int] | None = None,
        offset_reset: str | None = None,
    ) -> Topology:
        """Add a source node reading ``topics``."""
        if not topics:
            raise TopologyException(f"Source {name} needs at least one topic")
        for topic in topics:
            validate_name(topic, "topic name")
            if topic in self._topic_to_source:
                raise TopologyException(
                    f"Topic {topic} has already been registered by another source "
                    f"({self._topic_to_source[topic]})."
                )
        spec = SourceSpec(
            name,
            topics=list(topics),
            key_serde=key_serde,
            value_serde=value_serde,
            timestamp_extractor=timestamp_extractor,
            offset_reset=offset_reset,
        )
        self._add_node(spec, ())
        for topic in topics:
            self._topic_to_source[topic] = name
        return self

    def add_processor(
        self, name: str, supplier: Callable[[], Any], *parent_names: str
    ) -> Topology:
        """Add a processor made by ``supplier()`` (a fresh instance per task)."""
        if not callable(supplier):
            raise TopologyException(
                f"processor supplier for {name} must be callable (e.g. lambda: MyProcessor()), "
                f"got {type(supplier).__name__}"
            )
        if not parent_names:
            raise TopologyException(f"Processor {name} must have at least one parent")
        self._add_node(ProcessorSpec(name, factory=supplier), parent_names)
        return self

    def add_sink(
        self,
        name: str,
        topic: str | Callable[..., str],
        *parent_names: str,
        key_serde: Any = None,
        value_serde: Any = None,
        partitioner: Callable[..., int | None] | None = None,
    ) -> Topology:
        """Add a sink writing to ``topic`` (a name, or a function choosing one per record)."""
        if not parent_names:
            raise TopologyException(f"Sink {name} must have at least one parent")
        if callable(topic):
            spec = SinkSpec(name, topic_extractor=topic)
        else:
            validate_name(topic, "topic name")
            spec = SinkSpec(name, topic=topic)
        spec.key_serde, spec.value_serde, spec.partitioner = key_serde, value_serde, partitioner
        self._add_node(spec, parent_names)
        return self

    def add_state_store(self, store_builder: Any, *processor_names: str) -> Topology:
        """Register a store and connect it to ``processor_names``."""
        name = getattr(store_builder, "name", None)
        if name is None or not hasattr(store_builder, "build"):
            raise TopologyException(
                "add_state_store needs a store builder from Stores "
                "(e.g. Stores.key_value_store_builder(Stores.in_memory_key_value_store('s')))"
            )
        validate_name(name, "store name")
        if name in self._stores or name in self._global_stores:
            raise TopologyException(f"StateStore {name} is already added.")
        self._stores[name] = _StoreEntry(store_builder)
        self.connect_processor_and_state_stores(*processor_names, store_names=[name])
        return self

    def connect_processor_and_state_stores(
        self, *processor_names: str, store_names: Iterable[str]
    ) -> Topology:
        """Give processors access to already registered stores."""
        for store in store_names:
            if store not in self._stores:
                if store in self._global_stores:
                    continue  # global stores are readable by every processor
                raise TopologyException(f"StateStore {store} is not added yet.")
            for proc in processor_names:
                node = self._nodes.get(proc)
                if node is None:
                    raise TopologyException(f"Processor {proc} is not added yet.")
                if not isinstance(node, ProcessorSpec):
                    raise TopologyException(
                        f"cannot connect a store to {proc}: only processors can use stores"
                    )
                if store not in node.stores:
                    node.stores.append(store)
                if proc not in self._stores[store].processors:
                    self._stores[store].processors.append(proc)
        self._groups_cache = None
        return self

    def add_global_store(self, spec: GlobalStoreSpec) -> Topology:
        """Register a global store: its source and updater join the graph as their own group."""
        name = spec.store_builder.name
        validate_name(name, "store name")
        if name in self._stores or name in self._global_stores:
            raise TopologyException(f"StateStore {name} is already added.")
        for topic in spec.source.topics:
            validate_name(topic, "topic name")
            if topic in self._topic_to_source:
                raise TopologyException(
                    f"Topic {topic} has already been registered by another source."
                )
        spec.source.global_store = name
        spec.processor.global_store = name
        spec.processor.stores = [name]
        self._add_node(spec.source, ())
        self._add_node(spec.processor, (spec.source.name,))
        for topic in spec.source.topics:
            self._topic_to_source[topic] = spec.source.name
        self._global_stores[name] = spec
        return self

    def mark_internal_topic(self, topic: str, partitions: int | None = None) -> None:
        self.internal_topics.add(topic)
        self.internal_topic_partitions[topic] = partitions

    def set_changelog_topic(self, store: str, topic: str) -> None:
        """Use ``topic`` (a source topic) as the store's changelog instead of a new one."""
        self._stores[store].changelog_topic = topic

    # -- reading ----------------------------------------------------------------------------
    @property
    def nodes(self) -> dict[str, NodeSpec]:
        return self._nodes

    @property
    def stores(self) -> dict[str, Any]:
        """Store builders by name (not global stores)."""
        return {name: entry.builder for name, entry in self._stores.items()}

    @property
    def global_stores(self) -> dict[str, GlobalStoreSpec]:
        return self._global_stores

    def store_processors(self, store: str) -> list[str]:
        return list(self._stores[store].processors)

    def changelog_topic_override(self, store: str) -> str | None:
        return self._stores[store].changelog_topic

    def source_for_topic(self, topic: str) -> str | None:
        return self._topic_to_source.get(topic)

    @property
    def source_topics(self) -> list[str]:
        """Every topic a source reads, internal repartition topics included (raw names)."""
        return list(self._topic_to_source)

    def subtopologies(self) -> list[Subtopology]:
        """The connected parts of the graph, numbered as Kafka numbers them."""
        if self._groups_cache is None:
            self._groups_cache = self._compute_subtopologies()
        return self._groups_cache

    def _compute_subtopologies(self) -> list[Subtopology]:
        parent: dict[str, str] = {name: name for name in self._nodes}

        def find(x: str) -> str:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        def union(a: str, b: str) -> None:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[rb] = ra

        for name, spec in self._nodes.items():
            for child in spec.children:
                union(name, child)
        for entry in self._stores.values():
            for other in entry.processors[1:]:
                union(entry.processors[0], other)

        # Kafka numbers groups by the first-added node of each; global stores share the ids.
        order: list[str] = []
        members: dict[str, list[str]] = {}
        for name in self._nodes:
            root = find(name)
            if root not in members:
                order.append(root)
                members[root] = []
            members[root].append(name)
        result = []
        self._global_ids = {}
        for index, root in enumerate(order):
            names = members[root]
            first = self._nodes[names[0]]
            if first.global_store is not None:
                self._global_ids[first.global_store] = index
                continue
            source_topics: list[str] = []
            sink_topics: list[str] = []
            stores: list[str] = []
            for name in names:
                spec = self._nodes[name]
                if isinstance(spec, SourceSpec):
                    source_topics.extend(spec.topics)
                elif isinstance(spec, SinkSpec) and spec.topic is not None:
                    sink_topics.append(spec.topic)
                elif isinstance(spec, ProcessorSpec):
                    stores.extend(s for s in spec.stores if s not in stores and s in self._stores)
            result.append(Subtopology(index, names, source_topics, sink_topics, stores))
        return result

    def global_store_ids(self) -> dict[str, int]:
        """The sub-topology id Kafka gives each global store's group."""
        self.subtopologies()
        return dict(self._global_ids)

    def validate(self) -> None:
        """Raise ``TopologyException`` for a graph that cannot run."""
        for name, entry in self._stores.items():
            if not entry.processors:
                raise TopologyException(
                    f"StateStore {name} is not connected to any processor: pass processor names "
                    "to add_state_store, or name the store in KStream.process(...)"
                )

    def describe(self) -> Any:
        """A ``TopologyDescription``; ``print`` it for Kafka's text form."""
        from .description import describe

        return describe(self)

    def __repr__(self) -> str:
        return str(self.describe())
