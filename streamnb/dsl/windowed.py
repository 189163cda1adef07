"""Windowed grouped streams: ``grouped.windowed_by(TimeWindows | SlidingWindows |
SessionWindows)`` then ``count`` / ``reduce`` / ``aggregate``, as in Kafka Streams.

Results are KTables keyed by ``Windowed``; their key serde is a windowed wrapper of the
grouping's key serde (the app default when none was chosen), so ``to_stream().to(topic)``
writes Kafka's windowed key layout. Node, store and repartition names follow Kafka's
counter rules (see the facts, section 2.3).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..serde import Serdes
from ._functions import check_function
from ._stateful import TableInfo
from ._windowed_nodes import (
    SessionWindowAggregateNode,
    SlidingWindowAggregateNode,
    TimeWindowAggregateNode,
)
from ._windowed_serde import SessionWindowedSerde, TimeWindowedSerde, WindowStoreKeySerde
from .ktable import KTable
from .options import Materialized, Named, as_materialized, named_name
from .windows import EmitStrategy, SessionWindows, SlidingWindows, TimeWindows

if TYPE_CHECKING:
    from ..state.builders import StoreBuilder
    from .grouped import KGroupedStream

NamedArg = Named | str | None


def windowed_by(grouped: KGroupedStream, windows: Any) -> Any:
    """The windowed stream for ``windows`` (what ``KGroupedStream.windowed_by`` returns)."""
    if isinstance(windows, (TimeWindows, SlidingWindows)):
        return TimeWindowedKStream(grouped, windows)
    if isinstance(windows, SessionWindows):
        return SessionWindowedKStream(grouped, windows)
    raise TypeError(
        "windowed_by takes TimeWindows, SlidingWindows or SessionWindows (e.g. "
        "TimeWindows.of_size_with_no_grace(60_000)), got "
        f"{type(windows).__name__}"
    )


def _reduce_aggregator(reducer: Callable[[Any, Any], Any]) -> Callable[[Any, Any, Any], Any]:
    def aggregate(key: Any, value: Any, agg: Any) -> Any:
        return value if agg is None else reducer(agg, value)

    return aggregate


def _count_aggregator(key: Any, value: Any, agg: Any) -> Any:
    return agg + 1


def _zero() -> int:
    return 0


def _none() -> None:
    return None


class _WindowedStreamBase:
    def __init__(self, grouped: KGroupedStream, windows: Any) -> None:
        self._grouped = grouped
        self._windows = windows
        self._emit = EmitStrategy.on_window_update()

    def emit_strategy(self, strategy: EmitStrategy) -> Any:
        """Forward every update (default) or only final results when a window closes."""
        if not isinstance(strategy, EmitStrategy):
            raise TypeError(
                "emit_strategy takes EmitStrategy.on_window_update() or "
                f"EmitStrategy.on_window_close(), got {type(strategy).__name__}"
            )
        self._emit = strategy
        return self

    # subclasses: the retention the store needs, store builders, key serde of the result
    def _min_retention(self) -> int:
        raise NotImplementedError

    def _store_builder(self, name: str, mat: Materialized | None, retention: int,
                       value_serde: Any) -> StoreBuilder:
        raise NotImplementedError

    def _result_key_serde(self, key_serde: Any) -> Any:
        raise NotImplementedError

    def _build(self, prefix: str, named: NamedArg, materialized: Any,
               make: Callable[[str, TableInfo], Any], value_serde: Any,
               burn_unnamed_store: bool) -> KTable:
        grouped = self._grouped
        graph = grouped._graph
        mat = as_materialized(materialized)
        if burn_unnamed_store and mat is not None and mat.store_name is None:
            graph.names.next_index()  # Kafka's windowed count(Materialized) burns one name
        store, _ = graph.store_name(mat, prefix)
        retention = self._retention(store, mat)
        name = graph.name(named_name(named), prefix)
        parent = grouped._node
        if grouped._repartition_required:
            g = grouped._grouped
            topic_prefix = g.name if g and g.name else store
            parent = graph.repartition(parent, topic_prefix, grouped._key_serde,
                                       grouped._value_serde, reuse=bool(g and g.name))
        info = TableInfo(store)
        graph.add_processor(name, lambda: make(store, info), [parent])
        if mat is not None and mat.value_serde is not None:
            value_serde = mat.value_serde
        graph.add_store(self._store_builder(store, mat, retention, value_serde), name)
        table = KTable(graph, name, info, key_serde=self._result_key_serde(grouped._key_serde),
                       value_serde=value_serde)
        table._windows = self._windows  # type: ignore[attr-defined]  # read by suppress()
        return table

    def _retention(self, store: str, mat: Materialized | None) -> int:
        needed = self._min_retention()
        if mat is None or mat.retention_ms is None:
            return needed
        if mat.retention_ms < needed:
            raise ValueError(self._retention_error(store, mat.retention_ms))
        return mat.retention_ms

    def _retention_error(self, store: str, retention: int) -> str:
        raise NotImplementedError

    def _persistent(self, mat: Materialized | None) -> bool:
        persistent = self._grouped._graph.default_persistent
        if mat is not None and mat.store_type is not None:
            persistent = mat.store_type == "persistent"
        return persistent

    @staticmethod
    def _configure(builder: StoreBuilder, mat: Materialized | None) -> StoreBuilder:
        if mat is not None:
            if not mat.logging_enabled:
                builder.with_logging_disabled()
            else:
                builder.with_logging_enabled(mat.logging_config)
            if not mat.caching_enabled:
                builder.with_caching_disabled()
        return builder

    @staticmethod
    def _check_supplier(mat: Materialized | None, kind: str) -> Any:
        supplier = None if mat is None else mat.supplier
        if supplier is not None and getattr(supplier, "kind", None) != kind:
            raise TypeError(
                f"a {kind}ed aggregation needs a {kind} store supplier in Materialized.as_ "
                f"(e.g. Stores.in_memory_{kind}_store(...)), got {supplier!r}"
            )
        return supplier


class TimeWindowedKStream(_WindowedStreamBase):
    """A grouped stream over time windows (tumbling, hopping) or sliding windows."""

    @property
    def _sliding(self) -> bool:
        return isinstance(self._windows, SlidingWindows)

    def _size(self) -> int:
        return self._windows.size()

    def _min_retention(self) -> int:
        w = self._windows
        if self._sliding:
            return 2 * w.time_difference_ms + w.grace_ms
        return w.size_ms + w.grace_ms

    def _retention_error(self, store: str, retention: int) -> str:
        w = self._windows
        size = 2 * w.time_difference_ms if self._sliding else w.size_ms
        return (f"The retention period of the window store {store} must be no smaller than "
                f"its window size{' * 2' if self._sliding else ''} plus the grace period. Got "
                f"size=[{size if not self._sliding else w.time_difference_ms}], "
                f"grace=[{w.grace_ms}], retention=[{retention}]")

    def _store_builder(self, name: str, mat: Materialized | None, retention: int,
                       value_serde: Any) -> StoreBuilder:
        from ..state.builders import Stores

        supplier = self._check_supplier(mat, "window")
        if supplier is None:
            make = (Stores.persistent_window_store if self._persistent(mat)
                    else Stores.in_memory_window_store)
            supplier = make(name, retention, self._size())
        key_serde = self._grouped._key_serde
        if mat is not None and mat.key_serde is not None:
            key_serde = mat.key_serde
        builder = Stores.timestamped_window_store_builder(supplier, WindowStoreKeySerde(key_serde),
                                                          value_serde)
        return self._configure(builder, mat)

    def _result_key_serde(self, key_serde: Any) -> Any:
        return TimeWindowedSerde(key_serde, self._size())

    def _node(self, store: str, info: TableInfo, initializer: Any, aggregator: Any) -> Any:
        on_close = self._emit.on_close
        cls = SlidingWindowAggregateNode if self._sliding else TimeWindowAggregateNode
        return cls(store, info, self._windows, initializer, aggregator, on_close)

    def count(self, named: NamedArg = None, materialized: Materialized | str | None = None
              ) -> KTable:
        """Records per key and window (a None value counts too, as in Kafka's time windows;
        sliding windows skip it)."""
        def make(store: str, info: TableInfo) -> Any:
            node = self._node(store, info, _zero, _count_aggregator)
            node.counting = True
            return node

        return self._build("KSTREAM-AGGREGATE-", named, materialized, make, Serdes.Long(),
                           burn_unnamed_store=not self._sliding)

    def reduce(self, reducer: Callable[[Any, Any], Any], named: NamedArg = None,
               materialized: Materialized | str | None = None) -> KTable:
        """Combine the values of each key and window with ``reducer(aggregate, value)``."""
        check_function(reducer, "reducer", (2,), "(aggregate, value)")
        aggregator = _reduce_aggregator(reducer)
        return self._build("KSTREAM-REDUCE-", named, materialized,
                           lambda store, info: self._node(store, info, _none, aggregator),
                           self._grouped._value_serde, burn_unnamed_store=False)

    def aggregate(self, initializer: Callable[[], Any],
                  aggregator: Callable[[Any, Any, Any], Any], named: NamedArg = None,
                  materialized: Materialized | str | None = None) -> KTable:
        """Fold each key's values per window: ``aggregator(key, value, aggregate)``."""
        check_function(initializer, "initializer", (0,), "()")
        check_function(aggregator, "aggregator", (3,), "(key, value, aggregate)")
        return self._build("KSTREAM-AGGREGATE-", named, materialized,
                           lambda store, info: self._node(store, info, initializer, aggregator),
                           None, burn_unnamed_store=False)

    def __repr__(self) -> str:
        return f"<TimeWindowedKStream {self._windows!r}>"


class SessionWindowedKStream(_WindowedStreamBase):
    """A grouped stream over session windows."""

    def _min_retention(self) -> int:
        return self._windows.gap_ms + self._windows.grace_ms

    def _retention_error(self, store: str, retention: int) -> str:
        w = self._windows
        return (f"The retention period of the session store {store} must be no smaller than "
                f"the session inactivity gap plus the grace period. Got "
                f"gap=[{w.gap_ms}], grace=[{w.grace_ms}], retention=[{retention}]")

    def _store_builder(self, name: str, mat: Materialized | None, retention: int,
                       value_serde: Any) -> StoreBuilder:
        from ..state.builders import Stores

        supplier = self._check_supplier(mat, "session")
        if supplier is None:
            make = (Stores.persistent_session_store if self._persistent(mat)
                    else Stores.in_memory_session_store)
            supplier = make(name, retention)
        key_serde = self._grouped._key_serde
        if mat is not None and mat.key_serde is not None:
            key_serde = mat.key_serde
        builder = Stores.session_store_builder(supplier, SessionWindowedSerde(key_serde),
                                               value_serde)
        return self._configure(builder, mat)

    def _result_key_serde(self, key_serde: Any) -> Any:
        return SessionWindowedSerde(key_serde)

    def _node(self, store: str, info: TableInfo, initializer: Any, aggregator: Any,
              merger: Any) -> Any:
        return SessionWindowAggregateNode(store, info, self._windows, initializer, aggregator,
                                          merger, self._emit.on_close)

    def count(self, named: NamedArg = None, materialized: Materialized | str | None = None
              ) -> KTable:
        """Records per key and session."""
        return self._build(
            "KSTREAM-AGGREGATE-", named, materialized,
            lambda store, info: self._node(store, info, _zero, _count_aggregator,
                                           lambda k, a, b: a + b),
            Serdes.Long(), burn_unnamed_store=True)

    def reduce(self, reducer: Callable[[Any, Any], Any], named: NamedArg = None,
               materialized: Materialized | str | None = None) -> KTable:
        """Combine each session's values with ``reducer(aggregate, value)``."""
        check_function(reducer, "reducer", (2,), "(aggregate, value)")
        aggregator = _reduce_aggregator(reducer)

        def merger(key: Any, agg1: Any, agg2: Any) -> Any:
            return aggregator(key, agg2, agg1)

        return self._build("KSTREAM-REDUCE-", named, materialized,
                           lambda store, info: self._node(store, info, _none, aggregator, merger),
                           self._grouped._value_serde, burn_unnamed_store=False)

    def aggregate(self, initializer: Callable[[], Any],
                  aggregator: Callable[[Any, Any, Any], Any],
                  merger: Callable[[Any, Any, Any], Any], named: NamedArg = None,
                  materialized: Materialized | str | None = None) -> KTable:
        """Fold each session's values; ``merger(key, agg1, agg2)`` combines two sessions that
        a new record bridges."""
        check_function(initializer, "initializer", (0,), "()")
        check_function(aggregator, "aggregator", (3,), "(key, value, aggregate)")
        check_function(merger, "session merger", (3,), "(key, aggregate1, aggregate2)")
        return self._build(
            "KSTREAM-AGGREGATE-", named, materialized,
            lambda store, info: self._node(store, info, initializer, aggregator, merger),
            None, burn_unnamed_store=False)

    def __repr__(self) -> str:
        return f"<SessionWindowedKStream {self._windows!r}>"


__all__ = ["SessionWindowedKStream", "TimeWindowedKStream", "windowed_by"]
