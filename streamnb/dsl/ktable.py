"""KTable: a changelog stream read as a table (latest value per key, None deletes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._functions import arity_of_value_fn, check_function
from ._graph import Graph
from ._stateful import (
    TableFilterNode,
    TableInfo,
    TableMapValuesNode,
    TableRepartitionMapNode,
    TableToStreamNode,
)
from .options import Grouped, Materialized, Named, as_materialized, named_name

if TYPE_CHECKING:
    from .grouped import KGroupedTable
    from .kstream import KStream

NamedArg = Named | str | None


class KTable:
    """A table. Operators return new tables; ``to_stream()`` turns updates back into records.

    A table is materialized (backed by a queryable store) when given ``materialized=``, or
    when a downstream operator needs its previous values (e.g. ``group_by``).
    """

    def __init__(self, graph: Graph, node: str, info: TableInfo,
                 parent: KTable | None = None, key_serde: Any = None,
                 value_serde: Any = None) -> None:
        self._graph = graph
        self._node = node
        self._info = info
        self._parent = parent
        self._key_serde = key_serde
        self._value_serde = value_serde
        # (store name, Materialized, node) of a source table that materializes on demand.
        self._lazy_store: tuple[str, Materialized | None, str] | None = None

    @property
    def name(self) -> str:
        return self._node

    @property
    def queryable_store_name(self) -> str | None:
        """The store to query this table by, when it is materialized under a name."""
        return self._info.store_name

    # -- materialization and old values -----------------------------------------------------
    def _materialize(self) -> str:
        """Give this (source) table its store, if it has none yet; return the store name."""
        if self._lazy_store is None:
            return self._info.store_name or ""
        store, mat, node = self._lazy_store
        self._lazy_store = None
        builder = self._graph.key_value_store(store, mat, self._key_serde, self._value_serde)
        self._graph.add_store(builder, node)
        self._info.store_name = store
        return store

    def _enable_send_old_values(self, force: bool = True) -> bool:
        """Make this table forward (new, old) pairs, as Kafka's ``enableSendingOldValues``.

        A source table that is not materialized only does so when ``force``d (it then gets
        its store); a table with its own store always can; other derived tables can when
        their parent can. Returns whether old values are now sent.
        """
        info = self._info
        if info.send_old_values:
            return True
        if self._parent is None:  # a source table, or an aggregation (always materialized)
            if self._lazy_store is not None:
                if not force:
                    return False
                self._materialize()
            info.send_old_values = True
            return True
        if info.store_name is not None or self._parent._enable_send_old_values(force):
            info.send_old_values = True
        return info.send_old_values

    def _derive(self, prefix: str, named: NamedArg, materialized: Materialized | str | None,
                make: Callable[[TableInfo], Any], keep_value_serde: bool) -> KTable:
        graph = self._graph
        mat = as_materialized(materialized)
        store = None
        if mat is not None:
            store, queryable = graph.store_name(mat, prefix)
            if not queryable and mat.supplier is None:
                store = None  # Kafka burns the name but does not materialize

        name = graph.name(named_name(named), prefix)
        info = TableInfo(store)
        graph.add_processor(name, lambda: make(info), [self._node])
        value_serde = self._value_serde if keep_value_serde else None
        if store is not None:
            graph.add_store(graph.key_value_store(store, mat, self._key_serde, value_serde), name)
        return KTable(graph, name, info, parent=self, key_serde=self._key_serde,
                      value_serde=value_serde)

    # -- operators --------------------------------------------------------------------------
    def filter(self, predicate: Callable[[Any, Any], bool], named: NamedArg = None,
               materialized: Materialized | str | None = None) -> KTable:
        """Keep rows where ``predicate(key, value)``; others become deletes downstream."""
        check_function(predicate, "filter predicate", (2,), "(key, value)")
        table = self._filtered("KTABLE-FILTER-", named, materialized,
                               lambda info: TableFilterNode(info, predicate, False))
        table._getter_compute = lambda k, v: v if predicate(k, v) else None
        return table

    def filter_not(self, predicate: Callable[[Any, Any], bool], named: NamedArg = None,
                   materialized: Materialized | str | None = None) -> KTable:
        """Drop rows where ``predicate(key, value)``."""
        check_function(predicate, "filter_not predicate", (2,), "(key, value)")
        table = self._filtered("KTABLE-FILTER-", named, materialized,
                               lambda info: TableFilterNode(info, predicate, True))
        table._getter_compute = lambda k, v: None if predicate(k, v) else v
        return table

    def _filtered(self, prefix: str, named: NamedArg, materialized: Materialized | str | None,
                  make: Callable[[TableInfo], Any]) -> KTable:
        table = self._derive(prefix, named, materialized, make, True)
        # Kafka's KTableFilter: if the parent is already materialized, send old values, so
        # that a row failing the filter before and after an update forwards nothing.
        if self._enable_send_old_values(False):
            table._info.send_old_values = True
        return table

    def map_values(self, mapper: Callable[..., Any], named: NamedArg = None,
                   materialized: Materialized | str | None = None) -> KTable:
        """Replace each value by ``mapper(value)`` (or ``mapper(key, value)``)."""
        if arity_of_value_fn(mapper, "map_values function") == 1:
            fn = mapper

            def mapper2(key: Any, value: Any) -> Any:
                return fn(value)
        else:
            mapper2 = mapper
        table = self._derive("KTABLE-MAPVALUES-", named, materialized,
                             lambda info: TableMapValuesNode(info, mapper2), False)
        table._getter_compute = mapper2  # how joins read it when it has no store
        return table

    def to_stream(self, key_mapper: Callable[[Any, Any], Any] | None = None,
                  named: NamedArg = None) -> KStream:
        """The stream of this table's updates (a delete is a record with a None value)."""
        from .kstream import KStream

        if key_mapper is not None:
            check_function(key_mapper, "to_stream key mapper", (2,), "(key, value)")
        graph = self._graph
        name = graph.name(named_name(named), "KTABLE-TOSTREAM-")
        graph.add_processor(name, TableToStreamNode, [self._node])
        stream = KStream(graph, name, False, self._key_serde, self._value_serde)
        return stream if key_mapper is None else stream.select_key(key_mapper)

    def group_by(self, selector: Callable[[Any, Any], tuple[Any, Any]],
                 grouped: Grouped | None = None) -> KGroupedTable:
        """Re-key the table by ``selector(key, value) -> (new_key, new_value)`` for an
        aggregation with adder and subtractor (always through a repartition topic)."""
        from .grouped import KGroupedTable

        check_function(selector, "KTable.group_by selector", (2,), "(key, value)")
        if grouped is not None and not isinstance(grouped, Grouped):
            raise TypeError(f"grouped must be a Grouped, got {type(grouped).__name__}")
        graph = self._graph
        name = graph.name(grouped.name if grouped else None, "KTABLE-SELECT-")
        graph.add_processor(name, lambda: TableRepartitionMapNode(selector), [self._node])
        self._enable_send_old_values()
        return KGroupedTable(graph, name, grouped)

    # -- joins (built in joins.py) ----------------------------------------------------------
    def join(self, other: KTable, joiner: Callable[..., Any], fk_joiner: Any = None,
             named: NamedArg = None, materialized: Materialized | str | None = None) -> KTable:
        """Inner join with ``other`` on the key: ``joiner(value, other_value)``. With three
        arguments, ``join(other, foreign_key_extractor, joiner)`` is a foreign-key join."""
        from . import joins

        if fk_joiner is not None:
            from .fk_join import foreign_key_join

            return foreign_key_join(self, other, joiner, fk_joiner, named, materialized, False)
        return joins.table_table_join(self, other, joiner, named, materialized, False, False)

    def left_join(self, other: KTable, joiner: Callable[..., Any], fk_joiner: Any = None,
                  named: NamedArg = None, materialized: Materialized | str | None = None
                  ) -> KTable:
        """Every row of this table, joined with ``other``'s row or ``None``."""
        from . import joins

        if fk_joiner is not None:
            from .fk_join import foreign_key_join

            return foreign_key_join(self, other, joiner, fk_joiner, named, materialized, True)
        return joins.table_table_join(self, other, joiner, named, materialized, True, False)

    def outer_join(self, other: KTable, joiner: Callable[..., Any], named: NamedArg = None,
                   materialized: Materialized | str | None = None) -> KTable:
        """Rows of either table; the missing side is ``None``."""
        from . import joins

        return joins.table_table_join(self, other, joiner, named, materialized, True, True)

    def suppress(self, suppressed: Any) -> KTable:
        """Hold back updates: ``Suppressed.until_window_closes(BufferConfig.unbounded())``
        for one final result per window, or ``Suppressed.until_time_limit(d, config)``."""
        from .suppress import suppress_table

        return suppress_table(self, suppressed)

    def __repr__(self) -> str:
        return f"<KTable {self._node}>"
