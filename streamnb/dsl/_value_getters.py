"""Value getters: how a join reads another table's current value for a key.

Kafka's ``KTableValueGetterSupplier``: a materialized table reads its store; a filter or
map_values table that is not materialized computes from its parent's getter; a table-table
join result joins its two parents' getters. Suppliers are build-time objects; ``make(ctx)``
returns the per-task getter whose ``get(key)`` gives ``(value, timestamp)`` or ``None``
(and, for versioned tables, ``get(key, as_of_timestamp)``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import TopologyException

Fn = Callable[..., Any]


class ValueGetter:
    """A per-task getter: ``get`` and whether it reads a versioned store."""

    __slots__ = ("get", "versioned")

    def __init__(self, get: Fn, versioned: bool = False) -> None:
        self.get = get
        self.versioned = versioned


class StoreGetterSupplier:
    """Reads a (timestamped or versioned) key-value store of this task or a global store."""

    def __init__(self, store_name: str) -> None:
        self.store_name = store_name
        self.store_names = [store_name]

    def make(self, ctx: Any) -> ValueGetter:
        store = ctx.get_store(self.store_name)
        return ValueGetter(store.get, getattr(store, "kind", None) == "versioned")


class ComputedGetterSupplier:
    """A table computed from its parent (filter, map_values): ``compute(key, value)``
    returns the derived value or ``None`` (filtered out)."""

    def __init__(self, parent: Any, compute: Fn) -> None:
        self.parent = parent
        self.compute = compute
        self.store_names = list(parent.store_names)

    def make(self, ctx: Any) -> ValueGetter:
        parent = self.parent.make(ctx)
        parent_get = parent.get
        compute = self.compute

        def get(key: Any, *as_of: int) -> Any:
            # A versioned parent answers "as of" lookups; the derived table does too.
            found = parent_get(key, *as_of)
            if found is None or found[0] is None:
                return None
            value = compute(key, found[0])
            return None if value is None else (value, found[1])

        return ValueGetter(get, parent.versioned)


class JoinGetterSupplier:
    """The current value of a table-table join result, from its parents' getters."""

    def __init__(self, left: Any, right: Any, joiner: Fn, left_outer: bool,
                 right_outer: bool) -> None:
        self.left = left
        self.right = right
        self.joiner = joiner  # joiner(left_value, right_value)
        self.left_outer = left_outer  # a missing right side still gives a row (left join)
        self.right_outer = right_outer  # a missing left side still gives a row (outer join)
        self.store_names = list(dict.fromkeys([*left.store_names, *right.store_names]))

    def make(self, ctx: Any) -> ValueGetter:
        get_left = self.left.make(ctx).get
        get_right = self.right.make(ctx).get
        joiner, left_outer, right_outer = self.joiner, self.left_outer, self.right_outer

        def get(key: Any) -> Any:
            left = get_left(key)
            right = get_right(key)
            lv = None if left is None else left[0]
            rv = None if right is None else right[0]
            if lv is None and rv is None:
                return None
            if lv is None and not right_outer:
                return None
            if rv is None and not left_outer:
                return None
            ts = max(left[1] if lv is not None else -1, right[1] if rv is not None else -1)
            return (joiner(lv, rv), ts)

        return ValueGetter(get)


def value_getter_supplier(table: Any) -> Any:
    """The getter supplier of a ``KTable``, materializing a source table if needed."""
    supplier = getattr(table, "_getter_supplier", None)
    if supplier is not None:
        return supplier
    if getattr(table, "_lazy_store", None) is not None:
        table._materialize()
    if table._info.store_name:
        return StoreGetterSupplier(table._info.store_name)
    compute = getattr(table, "_getter_compute", None)
    if compute is not None and table._parent is not None:
        return ComputedGetterSupplier(value_getter_supplier(table._parent), compute)
    raise TopologyException(
        f"cannot read the values of table {table.name} for a join: it is not materialized "
        "and streamnb cannot compute it from its parent; pass materialized=... (e.g. "
        "Materialized.as_('name')) to the operation that made it"
    )
