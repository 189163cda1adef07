"""GlobalKTable: a table every instance holds in full (a global store), for joins whose
table key is computed from the stream record (``KStream.join(global_table, key_selector,
joiner)``), with no repartitioning and no co-partitioning."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import TopologyException
from ..topology.topology import GlobalStoreSpec, ProcessorSpec, SourceSpec
from ._stateful import TableInfo, TableSourceNode
from .options import Consumed, Materialized

if TYPE_CHECKING:
    from ._graph import Graph


class GlobalKTable:
    """A global table; join it from a ``KStream`` with a key selector."""

    def __init__(self, graph: Graph, name: str, store_name: str, topic: str) -> None:
        self._graph = graph
        self._node = name
        self._store_name = store_name
        self.topic = topic

    @property
    def name(self) -> str:
        return self._node

    @property
    def queryable_store_name(self) -> str:
        """The global store holding the table (readable with ``driver.get_key_value_store``)."""
        return self._store_name

    def __repr__(self) -> str:
        return f"<GlobalKTable {self._node} ({self.topic})>"


def global_table(graph: Graph, topic: str, consumed: Consumed,
                 materialized: Materialized | None) -> GlobalKTable:
    """Add the global store, its source and its ``KTABLE-SOURCE`` updater, named as Kafka's
    ``InternalStreamsBuilder.globalTable`` names them."""
    from .builder import _topics

    (topic,) = _topics(topic)
    if materialized is not None and materialized.is_versioned:
        raise TopologyException("GlobalTables cannot be versioned.")
    store, _queryable = graph.store_name(materialized, topic + "-")
    source = graph.suffixed(consumed.name, "-source", "KSTREAM-SOURCE-")
    processor = graph.name(consumed.name, "KTABLE-SOURCE-")
    key_serde = (materialized.key_serde if materialized and materialized.key_serde else None
                 ) or consumed.key_serde
    value_serde = (materialized.value_serde if materialized and materialized.value_serde
                   else None) or consumed.value_serde
    builder = graph.key_value_store(store, materialized, key_serde, value_serde)
    builder.with_logging_disabled()  # the source topic is the global store's changelog
    info = TableInfo(store)
    spec = GlobalStoreSpec(
        builder,
        SourceSpec(source, topics=[topic], key_serde=key_serde, value_serde=value_serde,
                   timestamp_extractor=consumed.timestamp_extractor,
                   offset_reset=consumed.offset_reset),
        ProcessorSpec(processor, factory=lambda: TableSourceNode(info)),
    )
    graph.topology.add_global_store(spec)
    return GlobalKTable(graph, processor, store, topic)


__all__ = ["GlobalKTable", "global_table"]
