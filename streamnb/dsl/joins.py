"""The DSL side of joins: which nodes, stores and repartition topics each join adds, named
as Kafka names them (counter order included), and the co-partitioning check.

``KStream.join/left_join/outer_join`` and ``KTable.join/left_join/outer_join`` are thin
methods that call the functions here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import StreamsException, TopologyException
from ..state.builders import StoreBuilder, StoreSupplier
from ..topology.topology import SourceSpec
from ._functions import check_function
from ._join_nodes import (
    NOT_VERSIONED,
    JoinWindowNode,
    StreamStreamJoinNode,
    StreamTableJoinNode,
    TableJoinMergeNode,
    TableTableJoinNode,
    TimeTrackers,
)
from ._stateful import TableInfo
from ._stateless import PassThroughNode
from ._value_getters import JoinGetterSupplier, StoreGetterSupplier, value_getter_supplier
from ._windowed_serde import WindowStoreKeySerde
from .join_options import Joined, StreamJoined
from .ktable import KTable
from .options import as_materialized, named_name

if TYPE_CHECKING:
    from ._graph import Graph
    from .kstream import KStream

Fn = Callable[..., Any]


# -- helpers ---------------------------------------------------------------------------------
def _joiner3(joiner: Any, what: str) -> Fn:
    """``join(key, left, right)`` from a ValueJoiner ``(v1, v2)`` or ValueJoinerWithKey."""
    arity = check_function(joiner, what, (2, 3), "(value1, value2) or (key, value1, value2)")
    if arity == 2:
        def join(key: Any, left: Any, right: Any) -> Any:
            return joiner(left, right)

        join.pair = joiner  # type: ignore[attr-defined]  # lets hot paths skip this wrapper
        return join
    return joiner


def _check_windows(windows: Any) -> None:
    if not all(hasattr(windows, a) for a in ("before_ms", "after_ms", "grace_ms")):
        raise TypeError(
            "a stream-stream join needs JoinWindows, e.g. "
            f"JoinWindows.of_time_difference_with_no_grace(timedelta(seconds=5)), got {windows!r}"
        )


def _source_topics(graph: Graph, node: str) -> list[str]:
    """The topics whose records reach ``node`` within its sub-topology."""
    topology = graph.topology
    topics: list[str] = []
    seen: set[str] = set()
    stack = [node]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        spec = topology.nodes[name]
        if isinstance(spec, SourceSpec):
            topics.extend(t for t in spec.topics if t not in topics)
        else:
            stack.extend(spec.parents)
    return topics


def ensure_copartitioned(graph: Graph, *nodes: str) -> set[str]:
    """Record that the inputs of ``nodes`` must be co-partitioned (Kafka checks the partition
    counts at start-up); fail now if repartition topics with explicit, different partition
    counts make that impossible."""
    topology = graph.topology
    group: set[str] = set()
    for node in nodes:
        group.update(_source_topics(graph, node))
    counts = {t: topology.internal_topic_partitions.get(t) for t in sorted(group)
              if t in topology.internal_topics}
    explicit = {t: n for t, n in counts.items() if n is not None}
    if len(set(explicit.values())) > 1:
        listed = ", ".join(f"{t} ({n})" for t, n in explicit.items())
        raise TopologyException(
            "Invalid topology: the inputs of this join are not co-partitioned. Following "
            f"topics do not have the same number of partitions: [{listed}]. Give every "
            "repartition() feeding the join the same num_partitions (Repartitioned."
            "with_number_of_partitions), or leave the count out."
        )
    if group and group not in topology.copartition_groups:
        topology.copartition_groups.append(group)
    return group


def _join_log_config(graph: Graph, sj: StreamJoined, retention_ms: int) -> dict[str, str]:
    """Kafka's changelog config of a join window store: a windowed changelog kept for the
    retention plus ``windowstore.changelog.additional.retention.ms``, and "delete" only
    (duplicates are kept, so compaction would lose records)."""
    extra = int(graph.config.get("windowstore.changelog.additional.retention.ms", 86_400_000))
    return {"retention.ms": str(retention_ms + extra), **sj.log_config,
            "cleanup.policy": "delete"}


def _join_window_store(graph: Graph, name: str, supplier: StoreSupplier | None,
                       retention_ms: int, size_ms: int, sj: StreamJoined, key_serde: Any,
                       value_serde: Any) -> StoreBuilder:
    """One side's window store: streamnb's in-memory ``JoinWindowStore``, a persistent
    window store when ``default.dsl.store`` is persistent, or the user's supplier. Logged
    like Kafka's (changelog ``<app>-<store>-changelog``) unless logging is disabled."""
    from ..state.builders import Stores
    from ..state.join_window import JoinWindowStore

    if supplier is None and graph.default_persistent:
        supplier = Stores.persistent_window_store(name, retention_ms, size_ms,
                                                  retain_duplicates=True)
    if supplier is None:
        supplier = StoreSupplier(name, "window",
                                 lambda: JoinWindowStore(name, retention_ms, size_ms),
                                 persistent=False, retention_ms=retention_ms,
                                 window_size_ms=size_ms, retain_duplicates=True)
        # JoinWindowStore logs (value, timestamp) pairs, as timestamped stores do.
        builder = StoreBuilder(supplier, WindowStoreKeySerde(key_serde), value_serde,
                               timestamped=True)
    else:
        builder = StoreBuilder(supplier, WindowStoreKeySerde(key_serde), value_serde)
    builder.with_caching_disabled()
    if sj.logging_enabled:
        builder.with_logging_enabled(_join_log_config(graph, sj, retention_ms))
    else:
        builder.with_logging_disabled()
    return builder


def _check_supplier(supplier: StoreSupplier, windows: Any) -> None:
    """Kafka's ``assertWindowSettings`` for a user's join store supplier."""
    params = supplier.params
    if not params.get("retain_duplicates", False):
        raise StreamsException(
            "The StoreSupplier must set retainDuplicates=true, found retainDuplicates=false")
    size = windows.before_ms + windows.after_ms
    if (params.get("retention_ms") != size + windows.grace_ms
            or params.get("window_size_ms") != size):
        raise StreamsException(
            f"Window settings mismatch. WindowBytesStoreSupplier settings {supplier!r} "
            f"(retention={params.get('retention_ms')} ms, window size="
            f"{params.get('window_size_ms')} ms) must match JoinWindows settings {windows!r} "
            "for the window size and retention period (retention = size + grace)")


def _outer_store(name: str, sj: StreamJoined, key_serde: Any, graph: Graph,
                 this_supplier: StoreSupplier | None) -> StoreBuilder:
    """The left/outer join's shared store of records waiting for a partner; logged like
    Kafka's list-value store (key ``(timestamp, side, key)``).

    Persistent as Kafka's ``OuterStreamJoinStoreFactory`` decides: like the user's
    this-side store supplier when there is one, else per ``default.dsl.store``."""
    from ..state._join_serdes import LeftOrRightValuesSerde, TimestampedKeyAndJoinSideSerde
    from ..state.join_persistent import PersistentOuterJoinStore
    from ..state.join_window import OuterJoinStore

    persistent = (this_supplier.persistent if this_supplier is not None
                  else graph.default_persistent)
    store_class = PersistentOuterJoinStore if persistent else OuterJoinStore
    builder = StoreBuilder(
        StoreSupplier(name, "key_value", lambda: store_class(name), persistent=persistent),
        TimestampedKeyAndJoinSideSerde(key_serde),
        LeftOrRightValuesSerde(sj.value_serde, sj.other_value_serde))
    builder.with_caching_disabled()
    if sj.logging_enabled:
        builder.with_logging_enabled(sj.log_config)
    else:
        builder.with_logging_disabled()
    return builder


# -- stream-stream ---------------------------------------------------------------------------
def stream_stream_join(this: KStream, other: KStream, joiner: Any, windows: Any,
                       stream_joined: StreamJoined | None, left_outer: bool,
                       right_outer: bool) -> KStream:
    """Kafka's ``KStreamImplJoin.join``: windowed stores on both sides, the two join
    processors, the outer store for left/outer joins, and the merge node."""
    from .kstream import KStream

    what = "outer_join" if right_outer else "left_join" if left_outer else "join"
    _check_windows(windows)
    if stream_joined is not None and not isinstance(stream_joined, StreamJoined):
        raise TypeError(f"stream_joined must be a StreamJoined, got {type(stream_joined).__name__}")
    if other._graph is not this._graph:
        raise TopologyException("cannot join streams of two different StreamsBuilders")
    join = _joiner3(joiner, f"{what} joiner")
    sj = stream_joined or StreamJoined()
    graph = this._graph
    name = sj.name
    key_serde = sj.key_serde or this._key_serde or other._key_serde
    this_node, other_node = this._node, other._node
    if this._repartition_required:
        this_node = graph.repartition(this_node, f"{name}-left" if name else this._node,
                                      key_serde, sj.value_serde or this._value_serde,
                                      reuse=name is None)
    if other._repartition_required:
        other_node = graph.repartition(other_node, f"{name}-right" if name else other._node,
                                       key_serde, sj.other_value_serde or other._value_serde,
                                       reuse=name is None)
    ensure_copartitioned(graph, this_node, other_node)

    this_windowed = graph.suffixed(name, "-this-windowed", "KSTREAM-WINDOWED-")
    other_windowed = graph.suffixed(name, "-other-windowed", "KSTREAM-WINDOWED-")
    this_gen = graph.names.processor_name(
        "KSTREAM-OUTERTHIS-" if right_outer else "KSTREAM-JOINTHIS-")
    other_gen = graph.names.processor_name(
        "KSTREAM-OUTEROTHER-" if left_outer else "KSTREAM-JOINOTHER-")
    this_suffix = "-outer-this-join" if right_outer else "-this-join"
    other_suffix = "-outer-other-join" if left_outer else "-other-join"
    join_this = f"{name}{this_suffix}" if name else this_gen
    join_other = f"{name}{other_suffix}" if name else other_gen
    merge = graph.suffixed(name, "-merge", "KSTREAM-MERGE-")

    base = sj.store_name
    this_supplier, other_supplier = sj.this_store_supplier, sj.other_store_supplier
    if (this_supplier is not None and other_supplier is not None
            and this_supplier.name == other_supplier.name):
        raise StreamsException(
            "Both StoreSuppliers have the same name.  StoreSuppliers must provide unique names")
    for supplier in (this_supplier, other_supplier):
        if supplier is not None:
            _check_supplier(supplier, windows)
    this_store = (this_supplier.name if this_supplier is not None
                  else (f"{base}{this_suffix}" if base else this_gen) + "-store")
    other_store = (other_supplier.name if other_supplier is not None
                   else (f"{base}{other_suffix}" if base else other_gen) + "-store")
    outer_store = None
    if left_outer and windows.enable_spurious_result_fix:
        # Kafka's precedence: the this-side supplier's name, the store name, generated.
        named = this_supplier.name if this_supplier is not None else base
        if named:
            outer_store = named + ("-outer-shared-join" if right_outer else "-left-shared-join")
        else:
            digits = this_gen[len("KSTREAM-OUTERTHIS-" if right_outer else "KSTREAM-JOINTHIS-"):]
            outer_store = "KSTREAM-OUTERSHARED-" + digits
        outer_store += "-store"

    before, after, grace = windows.before_ms, windows.after_ms, windows.grace_ms
    retention, size = before + after + grace, before + after
    this_value_serde = sj.value_serde or this._value_serde
    other_value_serde = sj.other_value_serde or other._value_serde
    graph.add_processor(this_windowed, lambda: JoinWindowNode(this_store), [this_node])
    graph.add_store(_join_window_store(graph, this_store, this_supplier, retention, size, sj,
                                       key_serde, this_value_serde), this_windowed)
    graph.add_processor(other_windowed, lambda: JoinWindowNode(other_store), [other_node])
    graph.add_store(_join_window_store(graph, other_store, other_supplier, retention, size, sj,
                                       key_serde, other_value_serde), other_windowed)

    trackers = TimeTrackers()

    def reverse(key: Any, right: Any, left: Any) -> Any:
        return join(key, left, right)

    pair = getattr(join, "pair", None)
    if pair is not None:
        def reverse(key: Any, right: Any, left: Any) -> Any:  # noqa: F811 - 2-arg fast path
            return pair(left, right)

        reverse.pair = lambda right, left: pair(left, right)  # type: ignore[attr-defined]
        # The user's (left, right) joiner itself: the node calls it with swapped arguments
        # instead of through the lambda above (one Python call less per result).
        reverse.swapped_pair = pair  # type: ignore[attr-defined]

    def make_this() -> StreamStreamJoinNode:
        return StreamStreamJoinNode(other_store=other_store, outer_store=outer_store, join=join,
                                    is_left=True, outer=left_outer, before_ms=before,
                                    after_ms=after, grace_ms=grace, trackers=trackers)

    def make_other() -> StreamStreamJoinNode:
        return StreamStreamJoinNode(other_store=this_store, outer_store=outer_store,
                                    join=reverse, is_left=False, outer=right_outer,
                                    before_ms=before, after_ms=after, grace_ms=grace,
                                    trackers=trackers)

    graph.add_processor(join_this, make_this, [this_windowed], [other_store])
    graph.add_processor(join_other, make_other, [other_windowed], [this_store])
    if outer_store is not None:
        outer_sj = StreamJoined(value_serde=this_value_serde,
                                other_value_serde=other_value_serde)
        outer_sj.logging_enabled, outer_sj.log_config = sj.logging_enabled, sj.log_config
        graph.add_store(_outer_store(outer_store, outer_sj, key_serde, graph, this_supplier),
                        join_this, join_other)
    graph.add_processor(merge, PassThroughNode, [join_this, join_other])
    return KStream(graph, merge, False, key_serde, None)


# -- stream-table and stream-global-table -----------------------------------------------------
def stream_table_join(stream: KStream, table: KTable, joiner: Any, joined: Joined | None,
                      left: bool) -> KStream:
    """Kafka's ``KStreamImpl.doStreamTableJoin``: optional repartition of the stream, then one
    ``KSTREAM-JOIN``/``KSTREAM-LEFTJOIN`` processor reading the table's value getter."""
    from .kstream import KStream

    what = "left_join" if left else "join"
    if joined is not None and not isinstance(joined, Joined):
        raise TypeError(f"joined must be a Joined, got {type(joined).__name__}")
    if table._graph is not stream._graph:
        raise TopologyException("cannot join a stream and a table of two different builders")
    join = _joiner3(joiner, f"{what} joiner")
    joined = joined or Joined()
    graph = stream._graph
    getter = value_getter_supplier(table)
    if joined.grace_ms is not None:
        _check_versioned(graph, getter.store_names, joined.grace_ms)
    key_serde = joined.key_serde or stream._key_serde
    node = stream._node
    if stream._repartition_required:
        node = graph.repartition(node, joined.name or stream._node, key_serde,
                                 joined.value_serde or stream._value_serde,
                                 reuse=joined.name is None)
    ensure_copartitioned(graph, node, table._node)
    name = graph.name(joined.name, "KSTREAM-LEFTJOIN-" if left else "KSTREAM-JOIN-")
    buffer = None if joined.grace_ms is None else f"{name}-Buffer"
    graph.add_processor(name, lambda: StreamTableJoinNode(getter, join, left, None, buffer),
                        [node], getter.store_names)
    if buffer is not None:
        graph.add_store(_buffer_store(buffer, joined.grace_ms, key_serde,
                                      joined.value_serde or stream._value_serde), name)
    return KStream(graph, name, False, key_serde, None)


def _check_versioned(graph: Graph, store_names: list[str], grace_ms: int) -> None:
    """A grace period needs a versioned table whose history covers it (Kafka's checks)."""
    for store in store_names:
        builder = graph.topology.stores[store]
        if builder.kind != "versioned":
            raise TopologyException(
                f"{NOT_VERSIONED} Materialize the table with Materialized.as_(name)"
                ".with_versioned(history_retention), or join without a grace period.")
        history = builder.supplier.params.get("history_retention_ms")
        if history is not None and grace_ms > history:
            raise TopologyException(
                "History retention must be at least grace period. Got history retention "
                f"{history} ms and grace period {grace_ms} ms for store {store!r}.")


def _buffer_store(name: str, grace_ms: int, key_serde: Any, value_serde: Any) -> StoreBuilder:
    """The ``<join>-Buffer`` store of a stream-table join with grace, logged as Kafka's.

    Always persistent, whatever ``default.dsl.store`` says: Kafka builds this buffer as a
    ``RocksDBTimeOrderedKeyValueBuffer`` unconditionally."""
    from ..state.join_persistent import PersistentStreamJoinBuffer

    builder = StoreBuilder(
        StoreSupplier(name, "key_value", lambda: PersistentStreamJoinBuffer(name, grace_ms),
                      persistent=True),
        WindowStoreKeySerde(key_serde), value_serde, timestamped=True)
    builder.with_caching_disabled()
    return builder


def stream_global_table_join(stream: KStream, global_table: Any, key_selector: Any,
                             joiner: Any, named: Any, left: bool) -> KStream:
    """Kafka's ``KStreamImpl.globalTableJoin``: no repartition, no co-partitioning; the
    table key comes from ``key_selector(key, value)``."""
    from .kstream import KStream

    what = "left_join" if left else "join"
    check_function(key_selector, f"{what} key selector", (2,), "(key, value)")
    join = _joiner3(joiner, f"{what} joiner")
    graph = stream._graph
    if global_table._graph is not graph:
        raise TopologyException("cannot join a stream and a global table of two builders")
    getter = StoreGetterSupplier(global_table.queryable_store_name)
    name = graph.name(named_name(named), "KSTREAM-LEFTJOIN-" if left else "KSTREAM-JOIN-")
    graph.add_processor(name, lambda: StreamTableJoinNode(getter, join, left, key_selector),
                        [stream._node])
    return KStream(graph, name, stream._repartition_required, stream._key_serde, None)


# -- table-table -----------------------------------------------------------------------------
class JoinedKTable(KTable):
    """The result of a table-table join: old values come from both parents."""

    _join_parents: tuple[KTable, KTable] = ()

    def _enable_send_old_values(self, force: bool = True) -> bool:
        # The join computes old results from both parents' old values: it needs them all.
        for parent in self._join_parents:
            parent._enable_send_old_values(True)
        self._info.send_old_values = True
        return True


def table_table_join(this: KTable, other: KTable, joiner: Any, named: Any,
                     materialized: Any, left_outer: bool, right_outer: bool) -> KTable:
    """Kafka's ``KTableImpl.doJoin``: ``KTABLE-JOINTHIS`` reads the other table's getter,
    ``KTABLE-JOINOTHER`` this table's, and ``KTABLE-MERGE`` is the result."""
    what = "outer_join" if right_outer else "left_join" if left_outer else "join"
    if not isinstance(other, KTable):
        raise TypeError(f"KTable.{what} takes a KTable, got {type(other).__name__}")
    if other._graph is not this._graph:
        raise TopologyException("cannot join tables of two different StreamsBuilders")
    check_function(joiner, f"{what} joiner", (2,), "(value1, value2)")
    graph = this._graph
    mat = as_materialized(materialized)
    store = None
    if mat is not None:
        store, _queryable = graph.store_name(mat, "KTABLE-MERGE-")
    user_name = named_name(named)
    merge = graph.name(user_name, "KTABLE-MERGE-")
    ensure_copartitioned(graph, this._node, other._node)
    if left_outer:
        this._enable_send_old_values()
    if right_outer:
        other._enable_send_old_values()
    join_this = graph.suffixed(user_name, "-join-this", "KTABLE-JOINTHIS-")
    join_other = graph.suffixed(user_name, "-join-other", "KTABLE-JOINOTHER-")
    this_getter = value_getter_supplier(this)
    other_getter = value_getter_supplier(other)
    info = TableInfo(store)

    def reversed_joiner(right: Any, left: Any) -> Any:
        return joiner(left, right)

    graph.add_processor(
        join_this,
        lambda: TableTableJoinNode(info, other_getter, joiner, this_outer=right_outer,
                                   other_outer=left_outer),
        [this._node], other_getter.store_names)
    graph.add_processor(
        join_other,
        lambda: TableTableJoinNode(info, this_getter, reversed_joiner, this_outer=left_outer,
                                   other_outer=right_outer),
        [other._node], this_getter.store_names)
    graph.add_processor(merge, lambda: TableJoinMergeNode(info), [join_this, join_other])
    value_serde = None
    if store is not None:
        graph.add_store(graph.key_value_store(store, mat, this._key_serde, None), merge)
    result = JoinedKTable(graph, merge, info, parent=None, key_serde=this._key_serde,
                          value_serde=value_serde)
    result._join_parents = (this, other)
    result._getter_supplier = (
        StoreGetterSupplier(store) if store is not None
        else JoinGetterSupplier(this_getter, other_getter, joiner, left_outer, right_outer)
    )
    return result
