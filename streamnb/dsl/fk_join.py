"""Foreign-key table joins: ``left.join(right, foreign_key_extractor, joiner)``.

Each left row points at a right row through ``foreign_key_extractor(left_value)``. streamnb
runs the join inside the task: the left side keeps a subscription index (foreign key ->
left keys) and answers right-side updates from it. The results follow Kafka's subscription
protocol (``SubscriptionSendProcessorSupplier`` instructions and the response resolver's
rules), but there are no subscription/response topics, so:

* both tables must be read by the same task (they are co-partitioned on one partition
  under the TopologyTestDriver; on a multi-partition cluster use a GlobalKTable join or
  repartition the right table by the foreign key), and
* ``describe()`` shows three processors (registration, subscription processor, output)
  instead of Kafka's eleven nodes and two internal topics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..engine.node import Node
from ..errors import TopologyException
from ..state._base import StateStore
from ..state.builders import StoreBuilder, StoreSupplier
from ._functions import check_function
from ._join_nodes import TableJoinMergeNode, skip_table_change
from ._stateful import TableInfo
from ._value_getters import StoreGetterSupplier, ValueGetter, value_getter_supplier
from .ktable import KTable
from .options import as_materialized, named_name

Fn = Callable[..., Any]


class SubscriptionStore(StateStore):
    """Foreign key -> the left keys that currently point at it (insertion-ordered)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._subs: dict[Any, dict[Any, None]] = {}

    def subscribe(self, fk: Any, left_key: Any) -> None:
        self._subs.setdefault(fk, {})[left_key] = None

    def unsubscribe(self, fk: Any, left_key: Any) -> None:
        subs = self._subs.get(fk)
        if subs is not None:
            subs.pop(left_key, None)
            if not subs:
                del self._subs[fk]

    def subscribers(self, fk: Any) -> list[Any]:
        return list(self._subs.get(fk, ()))

    def approximate_num_entries(self) -> int:
        return sum(len(s) for s in self._subs.values())


def _resolve(joiner: Fn, left_join: bool, left_value: Any, right_value: Any) -> Any:
    """Kafka's response resolver: a tombstone, or the joined value."""
    if right_value is None and (not left_join or left_value is None):
        return None
    return joiner(left_value, right_value)


class FkRegistrationNode(Node):
    """Left-table changes: (un)subscribe foreign keys and emit what the responses would."""

    def __init__(self, subscription_store: str, right_getter: Any, extractor: Fn, joiner: Fn,
                 left_join: bool) -> None:
        super().__init__()
        self.subscription_store = subscription_store
        self.right_getter = right_getter
        self.extractor = extractor
        self.joiner = joiner
        self.left_join = left_join

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        self.subs = ctx.get_store(self.subscription_store)
        self.get_right = self.right_getter.make(ctx).get

    def _respond(self, key: Any, new: Any, fk: Any, only_if_available: bool) -> None:
        found = None if fk is None else self.get_right(fk)
        right = None if found is None else found[0]
        if only_if_available and right is None:
            return
        ts = self.ctx.timestamp
        if found is not None and right is not None and found[1] > ts:
            ts = found[1]
        self.forward_at(key, (_resolve(self.joiner, self.left_join, new, right), None), ts)

    def process(self, key: Any, change: Any) -> None:
        if skip_table_change(self, key, change):
            return
        new, old = change
        extractor, subs = self.extractor, self.subs
        old_fk = None if old is None else extractor(old)
        new_fk = None if new is None else extractor(new)
        if self.left_join:
            if old is not None:
                if old_fk is not None and old_fk != new_fk:
                    subs.unsubscribe(old_fk, key)
                    self._respond(key, new, None, False)  # DELETE_KEY_AND_PROPAGATE
                if new is None:
                    return
            elif new is None:
                return
            if new_fk is not None:
                subs.subscribe(new_fk, key)
            self._respond(key, new, new_fk, False)  # PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE
            return
        if old is not None:
            if old_fk is None:
                self.ctx.record_dropped(self, "null foreign key")
                return
            if new is not None:
                if new_fk is None:
                    self.ctx.record_dropped(self, "null foreign key")
                    return
                if new_fk != old_fk:
                    subs.unsubscribe(old_fk, key)  # DELETE_KEY_NO_PROPAGATE
                subs.subscribe(new_fk, key)
                self._respond(key, new, new_fk, False)
            else:
                subs.unsubscribe(old_fk, key)
                self._respond(key, None, None, False)  # DELETE_KEY_AND_PROPAGATE
        elif new is not None:
            if new_fk is None:
                self.ctx.record_dropped(self, "null foreign key")
                return
            subs.subscribe(new_fk, key)
            self._respond(key, new, new_fk, True)  # PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE


class FkSubscriptionNode(Node):
    """Right-table changes: re-join every left row subscribed to the changed key."""

    def __init__(self, subscription_store: str, left_getter: Any, joiner: Fn,
                 left_join: bool) -> None:
        super().__init__()
        self.subscription_store = subscription_store
        self.left_getter = left_getter
        self.joiner = joiner
        self.left_join = left_join

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        self.subs = ctx.get_store(self.subscription_store)
        self.get_left = self.left_getter.make(ctx).get

    def process(self, fk: Any, change: Any) -> None:
        if skip_table_change(self, fk, change):
            return
        right = change[0]
        for left_key in self.subs.subscribers(fk):
            found = self.get_left(left_key)
            left = None if found is None else found[0]
            self.forward(left_key, (_resolve(self.joiner, self.left_join, left, right), None))


class FkGetterSupplier:
    """The current value of an FK-join result, from both tables' getters."""

    def __init__(self, left: Any, right: Any, extractor: Fn, joiner: Fn, left_join: bool
                 ) -> None:
        self.left, self.right = left, right
        self.extractor, self.joiner, self.left_join = extractor, joiner, left_join
        self.store_names = list(dict.fromkeys([*left.store_names, *right.store_names]))

    def make(self, ctx: Any) -> ValueGetter:
        get_left, get_right = self.left.make(ctx).get, self.right.make(ctx).get
        extractor, joiner, left_join = self.extractor, self.joiner, self.left_join

        def get(key: Any) -> Any:
            found = get_left(key)
            if found is None or found[0] is None:
                return None
            fk = extractor(found[0])
            other = None if fk is None else get_right(fk)
            right = None if other is None else other[0]
            value = _resolve(joiner, left_join, found[0], right)
            if value is None:
                return None
            ts = found[1] if other is None or right is None else max(found[1], other[1])
            return (value, ts)

        return ValueGetter(get)


def foreign_key_join(this: KTable, other: KTable, extractor: Any, joiner: Any, named: Any,
                     materialized: Any, left_join: bool) -> KTable:
    """Add the FK join's processors and subscription store; return the result table."""
    what = "left_join" if left_join else "join"
    if not isinstance(other, KTable):
        raise TypeError(f"a foreign-key {what} takes a KTable, got {type(other).__name__}")
    if other._graph is not this._graph:
        raise TopologyException("cannot join tables of two different StreamsBuilders")
    check_function(extractor, f"foreign-key {what} extractor", (1,), "(value)")
    check_function(joiner, f"foreign-key {what} joiner", (2,), "(value, other_value)")
    graph = this._graph
    user_name = named_name(named)
    mat = as_materialized(materialized)
    this._enable_send_old_values(True)  # unsubscribing needs the previous foreign key
    left_getter = value_getter_supplier(this)
    right_getter = value_getter_supplier(other)
    registration = graph.suffixed(user_name, "-subscription-registration",
                                  "KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-")
    sub_store = graph.suffixed(user_name, "-subscription-store",
                               "KTABLE-FK-JOIN-SUBSCRIPTION-STATE-STORE-")
    subscription = graph.suffixed(user_name, "-subscription-processor",
                                  "KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-")
    store = None
    if mat is not None:
        store, _queryable = graph.store_name(mat, "KTABLE-FK-JOIN-OUTPUT-")
    output = graph.suffixed(user_name, "-output", "KTABLE-FK-JOIN-OUTPUT-")
    graph.add_processor(
        registration,
        lambda: FkRegistrationNode(sub_store, right_getter, extractor, joiner, left_join),
        [this._node], right_getter.store_names)
    builder = StoreBuilder(StoreSupplier(sub_store, "key_value",
                                         lambda: SubscriptionStore(sub_store), persistent=False))
    builder.with_logging_disabled()  # rebuilt from the left table (same task)
    graph.add_store(builder, registration)
    graph.add_processor(
        subscription,
        lambda: FkSubscriptionNode(sub_store, left_getter, joiner, left_join),
        [other._node], [sub_store, *left_getter.store_names])
    info = TableInfo(store)
    graph.add_processor(output, lambda: TableJoinMergeNode(info), [registration, subscription])
    if store is not None:
        graph.add_store(graph.key_value_store(store, mat, this._key_serde, None), output)
    result = KTable(graph, output, info, parent=None, key_serde=this._key_serde)
    if store is not None:
        result._getter_supplier = StoreGetterSupplier(store)
    else:
        result._getter_supplier = FkGetterSupplier(left_getter, right_getter, extractor, joiner,
                                                   left_join)
    return result
