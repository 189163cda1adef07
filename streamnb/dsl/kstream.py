"""KStream: an unbounded stream of records, and its operators."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..errors import TopologyException
from ..processor import Processor
from ._functions import arity_of_value_fn, check_function
from ._graph import Graph
from ._stateful import TableInfo, TableSourceNode
from ._stateless import (
    BranchNode,
    FilterNode,
    FlatMapNode,
    FlatMapValuesNode,
    MapNode,
    MapValuesNode,
    PassThroughNode,
    PeekNode,
    SelectKeyNode,
)
from .options import (
    Branched,
    Grouped,
    Materialized,
    Named,
    Produced,
    Repartitioned,
    as_materialized,
    named_name,
)

if TYPE_CHECKING:
    from .grouped import KGroupedStream
    from .ktable import KTable

NamedArg = Named | str | None


class KStream:
    """A record stream. Every operator returns a new ``KStream`` (or table/grouped stream).

    Operators that may change the key (``map``, ``flat_map``, ``select_key``, ``process``)
    mark the stream for repartitioning: a later grouping or join then goes through an
    internal ``-repartition`` topic, as in Kafka Streams.
    """

    def __init__(self, graph: Graph, node: str, repartition_required: bool = False,
                 key_serde: Any = None, value_serde: Any = None) -> None:
        self._graph = graph
        self._node = node
        self._repartition_required = repartition_required
        self._key_serde = key_serde
        self._value_serde = value_serde

    @property
    def name(self) -> str:
        """The name of the node this stream comes out of."""
        return self._node

    def _add(self, prefix: str, named: NamedArg, factory: Callable[[], Any], *,
             repartition: bool | None = None, keep_key_serde: bool = True,
             keep_value_serde: bool = True, stores: Iterable[str] = ()) -> KStream:
        name = self._graph.name(named_name(named), prefix)
        self._graph.add_processor(name, factory, [self._node], list(stores))
        return KStream(
            self._graph, name,
            self._repartition_required if repartition is None else repartition,
            self._key_serde if keep_key_serde else None,
            self._value_serde if keep_value_serde else None,
        )

    # -- stateless --------------------------------------------------------------------------
    def filter(self, predicate: Callable[[Any, Any], bool], named: NamedArg = None) -> KStream:
        """Keep the records for which ``predicate(key, value)`` is true."""
        check_function(predicate, "filter predicate", (2,), "(key, value)")
        return self._add("KSTREAM-FILTER-", named, lambda: FilterNode(predicate))

    def filter_not(self, predicate: Callable[[Any, Any], bool], named: NamedArg = None
                   ) -> KStream:
        """Drop the records for which ``predicate(key, value)`` is true."""
        check_function(predicate, "filter_not predicate", (2,), "(key, value)")
        return self._add("KSTREAM-FILTER-", named, lambda: FilterNode(predicate, negate=True))

    def map(self, mapper: Callable[[Any, Any], tuple[Any, Any]], named: NamedArg = None
            ) -> KStream:
        """Replace each record by ``mapper(key, value) -> (new_key, new_value)``."""
        check_function(mapper, "map function", (2,), "(key, value)")
        return self._add("KSTREAM-MAP-", named, lambda: MapNode(mapper), repartition=True,
                         keep_key_serde=False, keep_value_serde=False)

    def map_values(self, mapper: Callable[..., Any], named: NamedArg = None) -> KStream:
        """Replace each value by ``mapper(value)`` (or ``mapper(key, value)``); keys stay."""
        with_key = arity_of_value_fn(mapper, "map_values function") == 2
        return self._add("KSTREAM-MAPVALUES-", named, lambda: MapValuesNode(mapper, with_key),
                         keep_value_serde=False)

    def flat_map(self, mapper: Callable[[Any, Any], Iterable[tuple[Any, Any]]],
                 named: NamedArg = None) -> KStream:
        """Replace each record by zero or more ``(key, value)`` pairs."""
        check_function(mapper, "flat_map function", (2,), "(key, value)")
        return self._add("KSTREAM-FLATMAP-", named, lambda: FlatMapNode(mapper),
                         repartition=True, keep_key_serde=False, keep_value_serde=False)

    def flat_map_values(self, mapper: Callable[..., Iterable[Any]], named: NamedArg = None
                        ) -> KStream:
        """Replace each value by zero or more values (``mapper(value)`` returns an iterable)."""
        with_key = arity_of_value_fn(mapper, "flat_map_values function") == 2
        return self._add("KSTREAM-FLATMAPVALUES-", named,
                         lambda: FlatMapValuesNode(mapper, with_key), keep_value_serde=False)

    def select_key(self, selector: Callable[[Any, Any], Any], named: NamedArg = None
                   ) -> KStream:
        """Set each record's key to ``selector(key, value)``."""
        check_function(selector, "select_key function", (2,), "(key, value)")
        return self._add("KSTREAM-KEY-SELECT-", named, lambda: SelectKeyNode(selector),
                         repartition=True, keep_key_serde=False)

    def peek(self, action: Callable[[Any, Any], None], named: NamedArg = None) -> KStream:
        """Call ``action(key, value)`` for each record and pass it on unchanged."""
        check_function(action, "peek action", (2,), "(key, value)")
        return self._add("KSTREAM-PEEK-", named, lambda: PeekNode(action))

    def foreach(self, action: Callable[[Any, Any], None], named: NamedArg = None) -> None:
        """Call ``action(key, value)`` for each record (a terminal operation)."""
        check_function(action, "foreach action", (2,), "(key, value)")
        self._add("KSTREAM-FOREACH-", named, lambda: PeekNode(action))

    def merge(self, other: KStream, named: NamedArg = None) -> KStream:
        """Interleave this stream and ``other`` (records keep their own timestamps)."""
        if not isinstance(other, KStream):
            raise TypeError(f"merge takes a KStream, got {type(other).__name__}")
        if other._graph is not self._graph:
            raise TopologyException("cannot merge streams of two different StreamsBuilders")
        name = self._graph.name(named_name(named), "KSTREAM-MERGE-")
        self._graph.add_processor(name, PassThroughNode, [self._node, other._node])
        return KStream(self._graph, name,
                       self._repartition_required or other._repartition_required,
                       self._key_serde, self._value_serde)  # Kafka keeps this stream's serdes

    # -- branching --------------------------------------------------------------------------
    def split(self, named: NamedArg = None) -> BranchedKStream:
        """Start splitting into branches: ``split().branch(pred, Branched.as_("a"))...``."""
        return BranchedKStream(self, named_name(named))

    def branch(self, *predicates: Callable[[Any, Any], bool], named: NamedArg = None
               ) -> list[KStream]:
        """Old-style branching: one stream per predicate (first match wins)."""
        if not predicates:
            raise ValueError("branch needs at least one predicate")
        for predicate in predicates:
            check_function(predicate, "branch predicate", (2,), "(key, value)")
        graph = self._graph
        branch_name = graph.name(named_name(named), "KSTREAM-BRANCH-")
        child_names = [graph.names.processor_name("KSTREAM-BRANCHCHILD-") for _ in predicates]
        preds = list(predicates)
        graph.add_processor(branch_name, lambda: BranchNode(preds, child_names), [self._node])
        result = []
        for child in child_names:
            graph.add_processor(child, PassThroughNode, [branch_name])
            result.append(KStream(graph, child, self._repartition_required,
                                  self._key_serde, self._value_serde))
        return result

    # -- sinks and tables -------------------------------------------------------------------
    def to(self, topic: str | Callable[..., str], produced: Produced | None = None) -> None:
        """Write every record to ``topic`` (or to the topic ``topic(key, value, ctx)`` picks)."""
        if produced is not None and not isinstance(produced, Produced):
            raise TypeError(f"produced must be a Produced, got {type(produced).__name__}")
        if not callable(topic) and not isinstance(topic, str):
            raise TypeError(f"topic must be a str or a topic-name function, got {topic!r}")
        name = self._graph.name(produced.name if produced else None, "KSTREAM-SINK-")
        key_serde = produced.key_serde if produced and produced.key_serde else self._key_serde
        value_serde = (produced.value_serde if produced and produced.value_serde
                       else self._value_serde)
        self._graph.add_sink(name, topic, [self._node], key_serde=key_serde,
                             value_serde=value_serde,
                             partitioner=produced.partitioner if produced else None)

    def repartition(self, repartitioned: Repartitioned | None = None) -> KStream:
        """Send the stream through an internal topic, so that it is partitioned by its key."""
        if repartitioned is not None and not isinstance(repartitioned, Repartitioned):
            raise TypeError(
                f"repartition takes a Repartitioned, got {type(repartitioned).__name__}"
            )
        graph = self._graph
        r = repartitioned or Repartitioned()
        prefix = graph.name(r.name, "KSTREAM-REPARTITION-", burn=False)
        key_serde = r.key_serde or self._key_serde
        value_serde = r.value_serde or self._value_serde
        source = graph.repartition(self._node, prefix, key_serde, value_serde,
                                   partitioner=r.partitioner, num_partitions=r.num_partitions)
        return KStream(graph, source, False, key_serde, value_serde)

    def to_table(self, named: NamedArg = None, materialized: Materialized | str | None = None
                 ) -> KTable:
        """Read the stream as a changelog: the latest value per key (None deletes)."""
        from .ktable import KTable

        graph = self._graph
        mat = as_materialized(materialized)
        name = graph.name(named_name(named), "KSTREAM-TOTABLE-")
        store, queryable = graph.store_name(mat, "KSTREAM-TOTABLE-")
        parent = self._node
        key_serde, value_serde = self._key_serde, self._value_serde
        if self._repartition_required:
            parent = graph.repartition(parent, name, key_serde, value_serde)
        info = TableInfo(store if queryable else None)
        graph.add_processor(name, lambda: TableSourceNode(info), [parent])
        table = KTable(graph, name, info, key_serde=key_serde, value_serde=value_serde)
        table._lazy_store = (store, mat, name)
        if queryable:
            table._materialize()
        return table

    # -- grouping ---------------------------------------------------------------------------
    def group_by_key(self, grouped: Grouped | None = None) -> KGroupedStream:
        """Group by the current key (repartitions first if the key may have changed)."""
        from .grouped import KGroupedStream

        _check_grouped(grouped)
        return KGroupedStream(self._graph, self._node, self._repartition_required, grouped,
                              self._key_serde, self._value_serde)

    def group_by(self, selector: Callable[[Any, Any], Any], grouped: Grouped | None = None
                 ) -> KGroupedStream:
        """Group by ``selector(key, value)`` (always through a repartition topic)."""
        from .grouped import KGroupedStream

        check_function(selector, "group_by selector", (2,), "(key, value)")
        _check_grouped(grouped)
        name = self._graph.name(grouped.name if grouped else None, "KSTREAM-KEY-SELECT-")
        self._graph.add_processor(name, lambda: SelectKeyNode(selector), [self._node])
        return KGroupedStream(self._graph, name, True, grouped, None, self._value_serde)

    # -- processor API ----------------------------------------------------------------------
    def process(self, supplier: Callable[[], Processor], *store_names: str,
                named: NamedArg = None) -> KStream:
        """Run a user ``Processor`` on each record; returns the stream of what it forwards.

        ``supplier`` makes a new processor per task (``lambda: MyProcessor()``);
        ``store_names`` are the stores (added with ``builder.add_state_store``) it may use.
        """
        if isinstance(supplier, Processor):
            raise TypeError(
                "process() takes a supplier that makes a new Processor per task, e.g. "
                f"lambda: {type(supplier).__name__}(), not a Processor instance"
            )
        check_function(supplier, "processor supplier", (0,), "()")
        for store in store_names:
            if not isinstance(store, str):
                raise TypeError(f"store names must be str, got {type(store).__name__} {store!r}")
        name = self._graph.name(named_name(named), "KSTREAM-PROCESSOR-", burn=False)
        self._graph.add_processor(name, supplier, [self._node], list(store_names))
        return KStream(self._graph, name, True)

    # -- joins (built in joins.py) ----------------------------------------------------------
    def join(self, other: Any, joiner: Callable[..., Any], windows: Any = None,
             stream_joined: Any = None, *, joined: Any = None, named: NamedArg = None
             ) -> KStream:
        """Join with a KStream (``join(other, joiner, JoinWindows)``), a KTable
        (``join(table, joiner)``) or a GlobalKTable (``join(gtable, key_selector, joiner)``).
        ``joiner`` is ``(value, other_value)`` or ``(key, value, other_value)``."""
        return self._join(other, joiner, windows, stream_joined, joined, named, False, False)

    def left_join(self, other: Any, joiner: Callable[..., Any], windows: Any = None,
                  stream_joined: Any = None, *, joined: Any = None, named: NamedArg = None
                  ) -> KStream:
        """Like ``join``, but every record of this stream yields a result (``None`` for a
        missing partner)."""
        return self._join(other, joiner, windows, stream_joined, joined, named, True, False)

    def outer_join(self, other: KStream, joiner: Callable[..., Any], windows: Any = None,
                   stream_joined: Any = None) -> KStream:
        """Windowed outer join of two streams: unmatched records of either side yield a
        result with ``None`` for the other, once their window has closed."""
        if not isinstance(other, KStream):
            raise TypeError(
                f"outer_join takes a KStream and JoinWindows, got {type(other).__name__}; "
                "tables support join and left_join"
            )
        return self._join(other, joiner, windows, stream_joined, None, None, True, True)

    def _join(self, other: Any, joiner: Any, windows: Any, stream_joined: Any, joined: Any,
              named: NamedArg, left: bool, outer: bool) -> KStream:
        from . import joins
        from .global_table import GlobalKTable
        from .ktable import KTable

        if isinstance(other, KStream):
            if windows is None:
                raise TypeError("a stream-stream join needs JoinWindows as its third argument")
            return joins.stream_stream_join(self, other, joiner, windows, stream_joined, left,
                                            outer)
        if isinstance(other, KTable):
            if windows is not None:
                joined = joined if joined is not None else windows
            return joins.stream_table_join(self, other, joiner, joined, left)
        if isinstance(other, GlobalKTable):
            if windows is None:
                raise TypeError(
                    "a GlobalKTable join takes (global_table, key_selector(key, value), joiner)"
                )
            return joins.stream_global_table_join(self, other, joiner, windows, named, left)
        raise TypeError(
            f"cannot join a KStream with {type(other).__name__}: use a KStream (with "
            "JoinWindows), a KTable or a GlobalKTable"
        )

    def __repr__(self) -> str:
        return f"<KStream {self._node}>"


def _check_grouped(grouped: Any) -> None:
    if grouped is not None and not isinstance(grouped, Grouped):
        raise TypeError(f"grouped must be a Grouped, got {type(grouped).__name__}")


class BranchedKStream:
    """The branches of ``KStream.split()``; finish with ``default_branch()`` or
    ``no_default_branch()``, which return the dict of branch name -> KStream.

    As in Kafka, the splitter is added by ``split()`` and each branch (with its
    ``Branched`` function or consumer) by its ``branch()`` call, so branches work even when
    the split is never finished, and node names are numbered in call order.
    """

    def __init__(self, stream: KStream, name: str | None) -> None:
        self._stream = stream
        self._graph = graph = stream._graph
        self._split_name = graph.name(name, "KSTREAM-BRANCH-")
        # Shared with the BranchNode (read when a task builds it), so later branches count.
        self._predicates: list[Callable[..., bool]] = []
        self._children: list[str] = []
        self._result: dict[str, KStream] = {}
        self._has_default = False
        preds, children = self._predicates, self._children
        graph.add_processor(
            self._split_name,
            lambda: BranchNode(list(preds) + ([None] if len(children) > len(preds) else []),
                               list(children)),
            [stream._node],
        )

    def branch(self, predicate: Callable[[Any, Any], bool], branched: Branched | None = None
               ) -> BranchedKStream:
        """Records matching ``predicate(key, value)`` (and no earlier branch) go here."""
        check_function(predicate, "branch predicate", (2,), "(key, value)")
        if self._has_default:
            raise TopologyException(
                "cannot add a branch after default_branch(): the default branch comes last"
            )
        self._predicates.append(predicate)
        self._add(branched, len(self._predicates))
        return self

    def default_branch(self, branched: Branched | None = None) -> dict[str, KStream]:
        """Records that matched no branch go to this last branch."""
        if self._has_default:
            raise TopologyException("default_branch() was already called on this split()")
        self._add(branched, 0)
        self._has_default = True
        return self._result

    def no_default_branch(self) -> dict[str, KStream]:
        """Finish without a default branch (unmatched records are dropped)."""
        return self._result

    def _add(self, branched: Branched | None, index: int) -> None:
        if branched is not None and not isinstance(branched, Branched):
            raise TypeError(f"branched must be a Branched, got {type(branched).__name__}")
        branched = branched or Branched()
        # Branches count from 1 in call order; the default branch is 0.
        child = self._split_name + (branched.name if branched.name is not None else str(index))
        graph, stream = self._graph, self._stream
        self._children.append(child)
        graph.names.next_index()  # Kafka burns one counter value per branch
        graph.add_processor(child, PassThroughNode, [self._split_name])
        branch = KStream(graph, child, stream._repartition_required, stream._key_serde,
                         stream._value_serde)
        if branched.function is not None:
            out = branched.function(branch)
            if out is not None:
                self._result[child] = out
        elif branched.consumer is not None:
            branched.consumer(branch)
        else:
            self._result[child] = branch
