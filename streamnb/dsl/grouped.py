"""Grouped streams and tables: the step between a grouping and its aggregation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..serde import Serdes
from ._functions import check_function
from ._graph import Graph, _ChangeSerde
from ._stateful import (
    StreamAggregateNode,
    StreamCountNode,
    StreamReduceNode,
    TableAggregateNode,
    TableInfo,
    TableReduceNode,
)
from .ktable import KTable
from .options import Grouped, Materialized, Named, as_materialized, named_name

NamedArg = Named | str | None


class KGroupedStream:
    """A stream grouped by key: ``count``, ``reduce``, ``aggregate`` make a KTable."""

    def __init__(self, graph: Graph, node: str, repartition_required: bool,
                 grouped: Grouped | None, key_serde: Any, value_serde: Any) -> None:
        self._graph = graph
        self._node = node
        self._repartition_required = repartition_required
        self._grouped = grouped
        self._key_serde = (grouped.key_serde if grouped and grouped.key_serde else key_serde)
        self._value_serde = (grouped.value_serde if grouped and grouped.value_serde
                             else value_serde)

    def _aggregate(self, prefix: str, named: NamedArg, materialized: Any,
                   make: Callable[[str, TableInfo], Any], value_serde: Any,
                   burn_unnamed_store: bool = False) -> KTable:
        graph = self._graph
        mat = as_materialized(materialized)
        if burn_unnamed_store and mat is not None and mat.store_name is None:
            graph.names.next_index()  # Kafka's count(Materialized) burns one extra name
        store, queryable = graph.store_name(mat, prefix)
        name = graph.name(named_name(named), prefix)
        parent = self._node
        if self._repartition_required:
            topic_prefix = self._grouped.name if self._grouped and self._grouped.name else store
            parent = graph.repartition(parent, topic_prefix, self._key_serde, self._value_serde,
                                       reuse=bool(self._grouped and self._grouped.name))
        info = TableInfo(store)
        graph.add_processor(name, lambda: make(store, info), [parent])
        graph.add_store(graph.key_value_store(store, mat, self._key_serde, value_serde), name)
        return KTable(graph, name, info, key_serde=self._key_serde, value_serde=value_serde)

    def count(self, named: NamedArg = None, materialized: Materialized | str | None = None
              ) -> KTable:
        """The number of records per key (records with a None key or value are skipped)."""
        return self._aggregate("KSTREAM-AGGREGATE-", named, materialized,
                               lambda store, info: StreamCountNode(store, info), Serdes.Long(),
                               burn_unnamed_store=True)

    def reduce(self, reducer: Callable[[Any, Any], Any], named: NamedArg = None,
               materialized: Materialized | str | None = None) -> KTable:
        """Combine values per key with ``reducer(aggregate, value)``."""
        check_function(reducer, "reducer", (2,), "(aggregate, value)")
        return self._aggregate("KSTREAM-REDUCE-", named, materialized,
                               lambda store, info: StreamReduceNode(store, info, reducer),
                               self._value_serde)

    def aggregate(self, initializer: Callable[[], Any],
                  aggregator: Callable[[Any, Any, Any], Any], named: NamedArg = None,
                  materialized: Materialized | str | None = None) -> KTable:
        """Fold values per key: ``aggregator(key, value, aggregate)`` from ``initializer()``."""
        check_function(initializer, "initializer", (0,), "()")
        check_function(aggregator, "aggregator", (3,), "(key, value, aggregate)")
        return self._aggregate(
            "KSTREAM-AGGREGATE-", named, materialized,
            lambda store, info: StreamAggregateNode(store, info, initializer, aggregator), None,
        )

    def windowed_by(self, windows: Any) -> Any:
        """Aggregate per time window (TimeWindows, SlidingWindows) or session."""
        from .windowed import windowed_by

        return windowed_by(self, windows)


class KGroupedTable:
    """A re-keyed table: aggregations take an adder and a subtractor."""

    def __init__(self, graph: Graph, node: str, grouped: Grouped | None) -> None:
        self._graph = graph
        self._node = node
        self._grouped = grouped
        self._key_serde = grouped.key_serde if grouped else None
        self._value_serde = grouped.value_serde if grouped else None

    def _aggregate(self, prefix: str, named: NamedArg, materialized: Any,
                   make: Callable[[TableInfo], Any], value_serde: Any) -> KTable:
        graph = self._graph
        mat = as_materialized(materialized)
        store, _ = graph.store_name(mat, prefix)
        user_name = named_name(named)
        sink = graph.suffixed(user_name, "-sink", "KSTREAM-SINK-")
        source = graph.suffixed(user_name, "-source", "KSTREAM-SOURCE-")
        name = graph.name(user_name, prefix)
        topic_prefix = self._grouped.name if self._grouped and self._grouped.name else store
        topic = topic_prefix + "-repartition"
        change_serde = _ChangeSerde(self._value_serde)
        graph.add_sink(sink, topic, [self._node], key_serde=self._key_serde,
                       value_serde=change_serde)
        graph.add_source(source, [topic], key_serde=self._key_serde, value_serde=change_serde)
        graph.topology.mark_internal_topic(topic)
        info = TableInfo(store)
        graph.add_processor(name, lambda: make(info), [source])
        graph.add_store(graph.key_value_store(store, mat, self._key_serde, value_serde), name)
        return KTable(graph, name, info, key_serde=self._key_serde, value_serde=value_serde)

    def count(self, named: NamedArg = None, materialized: Materialized | str | None = None
              ) -> KTable:
        """Rows per new key, kept current as rows change or are deleted."""
        return self._aggregate(
            "KTABLE-AGGREGATE-", named, materialized,
            lambda info: TableAggregateNode(info, lambda: 0, lambda k, v, agg: agg + 1,
                                            lambda k, v, agg: agg - 1),
            Serdes.Long(),
        )

    def reduce(self, adder: Callable[[Any, Any], Any], subtractor: Callable[[Any, Any], Any],
               named: NamedArg = None, materialized: Materialized | str | None = None
               ) -> KTable:
        """``adder(agg, new_value)`` for rows that arrive, ``subtractor(agg, old_value)`` for
        rows that leave."""
        check_function(adder, "adder", (2,), "(aggregate, value)")
        check_function(subtractor, "subtractor", (2,), "(aggregate, value)")
        return self._aggregate("KTABLE-REDUCE-", named, materialized,
                               lambda info: TableReduceNode(info, adder, subtractor),
                               self._value_serde)

    def aggregate(self, initializer: Callable[[], Any], adder: Callable[[Any, Any, Any], Any],
                  subtractor: Callable[[Any, Any, Any], Any], named: NamedArg = None,
                  materialized: Materialized | str | None = None) -> KTable:
        """Fold rows per new key: ``adder(key, value, agg)`` / ``subtractor(key, value, agg)``."""
        check_function(initializer, "initializer", (0,), "()")
        check_function(adder, "adder", (3,), "(key, value, aggregate)")
        check_function(subtractor, "subtractor", (3,), "(key, value, aggregate)")
        return self._aggregate(
            "KTABLE-AGGREGATE-", named, materialized,
            lambda info: TableAggregateNode(info, initializer, adder, subtractor), None,
        )
