"""The DSL side of joins: which nodes, stores and repartition topics each join adds, named
as Kafka names them (counter order included), and the co-partitioning check.

``KStream.join/left_join/outer_join`` and ``KTable.join/left_join/outer_join`` are thin
methods that call the functions here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import TopologyException
from ..state.builders import StoreBuilder, StoreSupplier
from ..topology.topology import SourceSpec
from ._functions import check_function
from ._join_nodes import (
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


def _join_window_store(name: str, retention_ms: int, size_ms: int, logging: bool
                       ) -> StoreBuilder:
    from ..state.join_window import JoinWindowStore

    supplier = StoreSupplier(name, "window", lambda: JoinWindowStore(name, retention_ms, size_ms),
                             persistent=False, retention_ms=retention_ms, window_size_ms=size_ms,
                             retain_duplicates=True)
    builder = StoreBuilder(supplier)
    builder.with_caching_disabled()
    # Join buffers are rebuilt from the input topics' retention window, not a changelog.
    builder.with_logging_disabled()
    return builder


def _outer_store(name: str) -> StoreBuilder:
    from ..state.join_window import OuterJoinStore

    builder = StoreBuilder(StoreSupplier(name, "key_value", lambda: OuterJoinStore(name),
                                         persistent=False))
    builder.with_caching_disabled()
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
    this_store = (f"{base}{this_suffix}" if base else this_gen) + "-store"
    other_store = (f"{base}{other_suffix}" if base else other_gen) + "-store"
    outer_store = None
    if left_outer and windows.enable_spurious_result_fix:
        if base:
            outer_store = base + ("-outer-shared-join" if right_outer else "-left-shared-join")
        else:
            digits = this_gen[len("KSTREAM-OUTERTHIS-" if right_outer else "KSTREAM-JOINTHIS-"):]
            outer_store = "KSTREAM-OUTERSHARED-" + digits
        outer_store += "-store"

    before, after, grace = windows.before_ms, windows.after_ms, windows.grace_ms
    retention, size = before + after + grace, before + after
    graph.add_processor(this_windowed, lambda: JoinWindowNode(this_store), [this_node])
    graph.add_store(_join_window_store(this_store, retention, size, sj.logging_enabled),
                    this_windowed)
    graph.add_processor(other_windowed, lambda: JoinWindowNode(other_store), [other_node])
    graph.add_store(_join_window_store(other_store, retention, size, sj.logging_enabled),
                    other_windowed)

    trackers = TimeTrackers()

    def reverse(key: Any, right: Any, left: Any) -> Any:
        return join(key, left, right)

    pair = getattr(join, "pair", None)
    if pair is not None:
        def reverse(key: Any, right: Any, left: Any) -> Any:  # noqa: F811 - 2-arg fast path
            return pair(left, right)

        reverse.pair = lambda right, left: pair(left, right)  # type: ignore[attr-defined]

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
        graph.add_store(_outer_store(outer_store), join_this, join_other)
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
        raise TopologyException(
            "Joined.with_grace_period is not supported by streamnb yet (Kafka buffers the "
            "stream side for a versioned table); join without a grace period"
        )
    key_serde = joined.key_serde or stream._key_serde
    node = stream._node
    if stream._repartition_required:
        node = graph.repartition(node, joined.name or stream._node, key_serde,
                                 joined.value_serde or stream._value_serde,
                                 reuse=joined.name is None)
    ensure_copartitioned(graph, node, table._node)
    name = graph.name(joined.name, "KSTREAM-LEFTJOIN-" if left else "KSTREAM-JOIN-")
    graph.add_processor(name, lambda: StreamTableJoinNode(getter, join, left), [node],
                        getter.store_names)
    return KStream(graph, name, False, key_serde, None)


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
