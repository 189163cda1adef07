"""Engine nodes of aggregations and KTable operators.

KTable records carry a change pair ``(new, old)`` as their value (Kafka's ``Change``);
``old`` is only filled when a downstream operator asked for old values (``TableInfo``).
Timestamped stores keep ``(value, timestamp)`` tuples; an aggregate's timestamp is the max
of the record's and the previous aggregate's, as in Kafka.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..engine.node import Node
from ..errors import StreamsException

Fn = Callable[..., Any]


class TableInfo:
    """Build-time facts about a KTable node that downstream operators may change."""

    def __init__(self, store_name: str | None = None) -> None:
        self.store_name = store_name  # set when the table is materialized
        self.send_old_values = False


# -- stream aggregations ---------------------------------------------------------------------
class _StreamAggregateBase(Node):
    def __init__(self, store_name: str, info: TableInfo) -> None:
        super().__init__()
        self.store_name = store_name
        self.info = info

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        self.store = ctx.get_store(self.store_name)
        self.send_old = self.info.send_old_values

    def _skip(self, key: Any, value: Any) -> bool:
        if key is None or value is None:
            self.ctx.record_dropped(self, "null key or value")
            return True
        return False


class StreamCountNode(_StreamAggregateBase):
    """``count()``: the number of non-null records per key."""

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        store, forward, forward_at = self.store, self.forward, self.forward_at
        fast_ops = getattr(store, "fast_ops", None)
        get, put = fast_ops() if fast_ops is not None else (store.get, store.put)
        send_old = self.send_old
        dropped = self.ctx.record_dropped
        node = self

        def process(key: Any, value: Any) -> None:
            if key is None or value is None:
                dropped(node, "null key or value")
                return
            old = get(key)
            ts = ctx.timestamp
            if old is None:
                old_count = 0
                new_ts = ts
            else:
                old_count, new_ts = old
                if ts > new_ts:
                    new_ts = ts
            new_count = old_count + 1
            put(key, (new_count, new_ts))
            if new_ts == ts:
                forward(key, (new_count, old_count if send_old else None))
            else:
                forward_at(key, (new_count, old_count if send_old else None), new_ts)

        self.process = process  # type: ignore[method-assign]

    def process(self, key: Any, value: Any) -> None:  # replaced at init
        if key is None or value is None:
            self.ctx.record_dropped(self, "null key or value")
            return
        store = self.store
        old = store.get(key)
        ts = self.ctx.timestamp
        if old is None:
            old_count = 0
            new_ts = ts
        else:
            old_count, old_ts = old
            new_ts = old_ts if old_ts > ts else ts
        new_count = old_count + 1
        store.put(key, (new_count, new_ts))
        change = (new_count, old_count if self.send_old else None)
        if new_ts == ts:
            self.forward(key, change)
        else:
            self.forward_at(key, change, new_ts)


class StreamAggregateNode(_StreamAggregateBase):
    """``aggregate(initializer, aggregator)``."""

    def __init__(self, store_name: str, info: TableInfo, initializer: Fn, aggregator: Fn) -> None:
        super().__init__(store_name, info)
        self.initializer = initializer
        self.aggregator = aggregator

    def process(self, key: Any, value: Any) -> None:
        if key is None or value is None:
            self.ctx.record_dropped(self, "null key or value")
            return
        store = self.store
        old = store.get(key)
        ts = self.ctx.timestamp
        if old is None:
            old_agg = self.initializer()
            new_ts = ts
        else:
            old_agg, old_ts = old
            new_ts = old_ts if old_ts > ts else ts
        new_agg = self.aggregator(key, value, old_agg)
        store.put(key, (new_agg, new_ts))
        self.forward_at(key, (new_agg, old_agg if self.send_old else None), new_ts)


class StreamReduceNode(_StreamAggregateBase):
    """``reduce(reducer)``: the first value is the initial aggregate."""

    def __init__(self, store_name: str, info: TableInfo, reducer: Fn) -> None:
        super().__init__(store_name, info)
        self.reducer = reducer

    def process(self, key: Any, value: Any) -> None:
        if key is None or value is None:
            self.ctx.record_dropped(self, "null key or value")
            return
        store = self.store
        old = store.get(key)
        ts = self.ctx.timestamp
        if old is None:
            old_agg = None
            new_agg = value
            new_ts = ts
        else:
            old_agg, old_ts = old
            new_agg = self.reducer(old_agg, value)
            new_ts = old_ts if old_ts > ts else ts
        store.put(key, (new_agg, new_ts))
        self.forward_at(key, (new_agg, old_agg if self.send_old else None), new_ts)


# -- tables ----------------------------------------------------------------------------------
class _TableNode(Node):
    """A KTable operator; its own store (if materialized) is ``info.store_name``."""

    def __init__(self, info: TableInfo) -> None:
        super().__init__()
        self.info = info
        self.store: Any = None

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        self.send_old = self.info.send_old_values
        if self.info.store_name is not None:
            self.store = ctx.get_store(self.info.store_name)
            if getattr(self.store, "kind", None) == "versioned":
                from ..state.versioned import VersionedTableStore

                self.store = VersionedTableStore(self.store, ctx)


class NotLatestChange(tuple):
    """A change ``(new, old)`` from a versioned table that is not the key's latest version
    (an out-of-order update): Kafka's ``Change.isLatest == false``. Joins and ``group_by``
    skip it; other operators treat it as a plain change."""

    __slots__ = ()


class TableSourceNode(_TableNode):
    """``builder.table`` / ``to_table``: upserts, tombstones delete, null keys are dropped."""

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        if getattr(self.store, "kind", None) == "versioned":
            self.process = self._process_versioned  # type: ignore[method-assign]
        elif hasattr(self.store, "raw_ops"):
            self.process = self._raw_process()  # type: ignore[method-assign]

    def _raw_process(self) -> Callable[[Any, Any], None]:
        """``process`` on a store's own dict operations (``raw_ops``): an upsert is two dict
        assignments (store and change logger) and no store read unless old values are
        sent; deletes and null keys take the store's checked path."""
        get, set_value, log_change = self.store.raw_ops()
        process, forward, ctx, send_old = self.process, self.forward, self.ctx, self.send_old
        logged = log_change is not None
        forwards = bool(self.children)  # a table read only through its store forwards nothing

        def raw_process(key: Any, value: Any) -> None:
            if value is None or key is None:
                process(key, value)
                return
            stored = (value, ctx.timestamp)
            if send_old:
                old = get(key)
                set_value(key, stored)
                if logged:
                    log_change(key, stored)
                forward(key, (value, None if old is None else old[0]))
                return
            set_value(key, stored)
            if logged:
                log_change(key, stored)
            if forwards:
                forward(key, (value, None))

        return raw_process

    def _process_versioned(self, key: Any, value: Any) -> None:
        """Kafka's versioned semantics: a put the store rejects (older than its history
        retention) is not forwarded; an out-of-order one is forwarded as not-latest."""
        if key is None:
            self.ctx.record_dropped(self, "null key")
            return
        store = self.store
        old = store.get(key)
        code = store.put(key, None if value is None else (value, self.ctx.timestamp))
        if code == -(2**63):  # PUT_RETURN_CODE_NOT_PUT
            self.ctx.record_dropped(self, "expired put to versioned table")
            return
        change = (value, old[0] if old is not None and self.send_old else None)
        self.forward(key, change if code == -1 else NotLatestChange(change))

    def process(self, key: Any, value: Any) -> None:
        if key is None:
            self.ctx.record_dropped(self, "null key")
            return
        store = self.store
        ts = self.ctx.timestamp
        if store is None:
            self.forward(key, (value, None))
            return
        old = store.get(key)
        old_value = None if old is None else old[0]
        store.put(key, None if value is None else (value, ts))
        self.forward(key, (value, old_value if self.send_old else None))


class TableFilterNode(_TableNode):
    def __init__(self, info: TableInfo, predicate: Fn, negate: bool) -> None:
        super().__init__(info)
        self.predicate = predicate
        self.negate = negate

    def _keep(self, key: Any, value: Any) -> Any:
        if value is not None and bool(self.predicate(key, value)) != self.negate:
            return value
        return None

    def process(self, key: Any, change: Any) -> None:
        new_value = self._keep(key, change[0])
        store = self.store
        old_value = None
        if self.send_old:
            if store is not None:  # Kafka reads the old value from its own store
                old = store.get(key)
                old_value = None if old is None else old[0]
            else:
                old_value = self._keep(key, change[1])
            if old_value is None and new_value is None:
                return  # nothing changed downstream
        if store is not None:
            store.put(key, None if new_value is None else (new_value, self.ctx.timestamp))
        self.forward(key, (new_value, old_value))


class TableMapValuesNode(_TableNode):
    def __init__(self, info: TableInfo, mapper: Fn) -> None:
        super().__init__(info)
        self.mapper = mapper  # normalised to (key, value)

    def process(self, key: Any, change: Any) -> None:
        mapper = self.mapper
        new_value = None if change[0] is None else mapper(key, change[0])
        store = self.store
        old_value = None
        if self.send_old:
            if store is not None:  # Kafka reads the old value from its own store
                old = store.get(key)
                old_value = None if old is None else old[0]
            elif change[1] is not None:
                old_value = mapper(key, change[1])
        if store is not None:
            store.put(key, None if new_value is None else (new_value, self.ctx.timestamp))
        self.forward(key, (new_value, old_value))


class TableToStreamNode(Node):
    """``to_stream()``: the new value of each change (None for a delete)."""

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        forward = self.forward

        def process(key: Any, change: Any) -> None:
            forward(key, change[0])

        self.process = process  # type: ignore[method-assign]

    def process(self, key: Any, change: Any) -> None:
        self.forward(key, change[0])


class TableRepartitionMapNode(Node):
    """``KTable.group_by``: turns each change into a subtract (old) and an add (new)."""

    def __init__(self, selector: Fn) -> None:
        super().__init__()
        self.selector = selector

    def _pair(self, key: Any, value: Any) -> Any:
        if value is None:
            return None
        pair = self.selector(key, value)
        if pair is None:  # Kafka: a null pair is skipped, like a pair with a null key/value
            return None
        try:
            new_key, new_value = pair
        except (TypeError, ValueError):
            raise TypeError(
                f"KTable.group_by selector of {self.name} must return a (key, value) pair, "
                f"got {pair!r}"
            ) from None
        if new_key is None or new_value is None:
            return None
        return new_key, new_value

    def process(self, key: Any, change: Any) -> None:
        if key is None:
            raise StreamsException("Record key for the grouping KTable should not be null.")
        if type(change) is NotLatestChange:
            return  # versioned semantics: out-of-order updates do not regroup
        new_pair = self._pair(key, change[0])
        old_pair = self._pair(key, change[1])
        if old_pair is not None and new_pair is not None and old_pair[0] == new_pair[0]:
            # Same group: one record carrying both, as Kafka does since 3.5.
            self.forward(new_pair[0], (new_pair[1], old_pair[1]))
            return
        # Old first, so that aggregates subtract before they add.
        if old_pair is not None:
            self.forward(old_pair[0], (None, old_pair[1]))
        if new_pair is not None:
            self.forward(new_pair[0], (new_pair[1], None))


class TableAggregateNode(_TableNode):
    """``KGroupedTable.aggregate(initializer, adder, subtractor)`` (count uses it too)."""

    def __init__(self, info: TableInfo, initializer: Fn, adder: Fn, subtractor: Fn) -> None:
        super().__init__(info)
        self.initializer = initializer
        self.adder = adder
        self.subtractor = subtractor

    def process(self, key: Any, change: Any) -> None:
        if key is None:
            raise StreamsException(
                f"Record key for KTable aggregate operator with state {self.info.store_name} "
                "should not be null."
            )
        store = self.store
        old = store.get(key)
        old_agg = None if old is None else old[0]
        ts = self.ctx.timestamp
        new_ts = ts
        new_value, old_value = change
        if old_value is not None and old_agg is not None:
            agg = self.subtractor(key, old_value, old_agg)
            new_ts = max(ts, old[1])
        else:
            agg = old_agg
        if new_value is not None:
            agg = self.adder(key, new_value, self.initializer() if agg is None else agg)
            if old is not None:
                new_ts = max(ts, old[1])
        store.put(key, None if agg is None else (agg, new_ts))
        self.forward_at(key, (agg, old_agg if self.send_old else None), new_ts)


class TableReduceNode(_TableNode):
    """``KGroupedTable.reduce(adder, subtractor)``."""

    def __init__(self, info: TableInfo, adder: Fn, subtractor: Fn) -> None:
        super().__init__(info)
        self.adder = adder
        self.subtractor = subtractor

    def process(self, key: Any, change: Any) -> None:
        if key is None:
            raise StreamsException(
                f"Record key for KTable reduce operator with state {self.info.store_name} "
                "should not be null."
            )
        store = self.store
        old = store.get(key)
        old_agg = None if old is None else old[0]
        ts = self.ctx.timestamp
        new_value, old_value = change
        if old_value is not None and old_agg is not None:
            agg = self.subtractor(old_agg, old_value)
            new_ts = max(ts, old[1])
        else:
            agg = old_agg
            new_ts = ts
        if new_value is not None:
            if agg is None:
                agg = new_value
            else:
                agg = self.adder(agg, new_value)
                new_ts = max(ts, old[1]) if old is not None else ts
        store.put(key, None if agg is None else (agg, new_ts))
        self.forward_at(key, (agg, old_agg if self.send_old else None), new_ts)
