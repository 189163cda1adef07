"""StreamsBuilder: the entry point of the DSL."""

from __future__ import annotations

from typing import Any

from ..state.builders import StoreBuilder
from ..topology._naming import validate_name
from ..topology.topology import Topology
from ._graph import Graph
from ._stateful import TableInfo, TableSourceNode
from .kstream import KStream
from .ktable import KTable
from .options import Consumed, Materialized, as_materialized


def _topics(topics: Any) -> list[str]:
    if isinstance(topics, str):
        topics = [topics]
    if not isinstance(topics, (list, tuple)) or not topics:
        raise TypeError(f"topics must be a topic name or a non-empty list of names, got {topics!r}")
    return [validate_name(t, "topic name") for t in topics]


def _consumed(consumed: Any) -> Consumed:
    if consumed is None:
        return Consumed()
    if not isinstance(consumed, Consumed):
        raise TypeError(f"consumed must be a Consumed, got {type(consumed).__name__}")
    return consumed


class StreamsBuilder:
    """Builds a topology with the DSL: ``stream``, ``table``, ``global_table``, stores.

    ``config`` takes DSL settings such as ``{"default.dsl.store": "persistent"}``.
    """

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self._graph = Graph(config)

    @property
    def topology(self) -> Topology:
        """The topology as built so far."""
        return self._graph.topology

    def stream(self, topics: str | list[str], consumed: Consumed | None = None) -> KStream:
        """A KStream of the records of ``topics``."""
        names = _topics(topics)
        c = _consumed(consumed)
        graph = self._graph
        name = graph.name(c.name, "KSTREAM-SOURCE-")
        graph.add_source(name, names, c.key_serde, c.value_serde, c.timestamp_extractor,
                         c.offset_reset)
        return KStream(graph, name, False, c.key_serde, c.value_serde)

    def table(self, topic: str, consumed: Consumed | None = None,
              materialized: Materialized | str | None = None) -> KTable:
        """A KTable of ``topic`` read as a changelog (latest value per key; None deletes)."""
        (topic,) = _topics(topic)
        c = _consumed(consumed)
        mat = as_materialized(materialized)
        graph = self._graph
        store, queryable = graph.store_name(mat, topic + "-")
        source = graph.suffixed(c.name, "-source", "KSTREAM-SOURCE-")
        table_source = graph.name(c.name, "KTABLE-SOURCE-")
        key_serde = (mat.key_serde if mat and mat.key_serde else None) or c.key_serde
        value_serde = (mat.value_serde if mat and mat.value_serde else None) or c.value_serde
        graph.add_source(source, [topic], key_serde, value_serde, c.timestamp_extractor,
                         c.offset_reset)
        info = TableInfo(None)
        graph.add_processor(table_source, lambda: TableSourceNode(info), [source])
        table = KTable(graph, table_source, info, key_serde=key_serde, value_serde=value_serde)
        table._lazy_store = (store, mat, table_source)
        if queryable:
            table._materialize()
        return table

    def global_table(self, topic: str, consumed: Consumed | None = None,
                     materialized: Materialized | str | None = None) -> Any:
        """A GlobalKTable: every instance holds all of ``topic``, for key-selector joins."""
        from .global_table import global_table

        return global_table(self._graph, topic, _consumed(consumed), as_materialized(materialized))

    def add_state_store(self, store_builder: StoreBuilder) -> StreamsBuilder:
        """Register a store for the Processor API; name it in ``KStream.process(...)``."""
        if not isinstance(store_builder, StoreBuilder):
            raise TypeError(
                "add_state_store takes a StoreBuilder, e.g. Stores.key_value_store_builder("
                f"Stores.in_memory_key_value_store('name')), got {type(store_builder).__name__}"
            )
        self._graph.topology.add_state_store(store_builder)
        return self

    def build(self) -> Topology:
        """Finish and validate the topology."""
        topology = self._graph.topology
        topology.validate()
        return topology

