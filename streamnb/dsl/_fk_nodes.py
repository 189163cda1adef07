"""The processors of a foreign-key table join (Kafka's ``foreignkeyjoin`` package).

Left sub-topology: ``SubscriptionSendNode`` turns each left-table change into subscription
records keyed by the foreign key (to the registration topic); ``ResponseJoinNode`` checks
each answer against the current left row (a different value hash = stale, dropped) and
produces the join result.

Right sub-topology (co-partitioned with the right table): ``SubscriptionReceiveNode`` keeps
the subscriptions in ``SubscriptionStore`` ((foreign key, left key) -> subscription) and
``SubscriptionJoinNode`` answers each with the right row; ``ForeignTableJoinNode`` answers
every subscriber of a right key when that row changes. Answers go to the response topic,
partitioned back to the left row's partition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..engine.node import Node
from ..errors import StreamsException
from ..serde import serde_from_config
from ..state.memory import InMemoryKeyValueStore
from ..state.persistent import PersistentKeyValueStore
from ._fk_wrappers import (
    DELETE_KEY_AND_PROPAGATE,
    DELETE_KEY_NO_PROPAGATE,
    PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE,
    PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE,
    DefaultKeySerde,
    SubscriptionResponseWrapper,
    SubscriptionWrapper,
)
from ._join_nodes import skip_table_change
from ._murmur3 import hash128

Fn = Callable[..., Any]


def _value_serializer(serde: Any, ctx: Any) -> Fn:
    """``value -> bytes`` with the table's value serde, else the app's default one."""
    if serde is None:
        serde = serde_from_config(ctx.config.get("default.value.serde", "json"),
                                  "default.value.serde")
    serialize = serde.serialize
    return lambda value: serialize(None, value) or b""


def _unhashable(fk: Any) -> StreamsException:
    return StreamsException(
        f"foreign key {fk!r} ({type(fk).__name__}) is not hashable: the foreign-key "
        "extractor must return a str, number, bytes or tuple (it is the right table's key)"
    )


def _subscriptions_of(by_fk: dict[Any, dict[Any, Any]], fk: Any) -> dict[Any, Any] | None:
    try:
        return by_fk.get(fk)
    except TypeError:
        raise _unhashable(fk) from None


def _index(by_fk: dict[Any, dict[Any, Any]], key: Any, value: Any, kept: Any) -> None:
    """Record (``value`` not None) or forget subscription ``key = (fk, pk)`` in the index
    by foreign key, keeping ``kept`` for it."""
    fk, pk = key
    subs = _subscriptions_of(by_fk, fk)
    if value is None:
        if subs is not None:
            subs.pop(pk, None)
            if not subs:
                del by_fk[fk]
    elif subs is None:
        by_fk[fk] = {pk: kept}
    else:
        subs[pk] = kept


class SubscriptionStore(InMemoryKeyValueStore):
    """Subscriptions: ``(foreign key, left key)`` -> ``(SubscriptionWrapper, timestamp)``.

    A key-value store like any other (queries, changelog, restore), plus an index by foreign
    key so that a right-table update finds its subscribers directly: Kafka's prefix scan
    over the combined key, without sorting. Wrappers restored from the changelog carry no
    left key (the store key holds it, so the changelog value leaves it out)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._by_fk: dict[Any, dict[Any, Any]] = {}

    def init(self, directory: Any = None) -> None:
        super().init(directory)
        self._by_fk = {}

    def close(self) -> None:
        super().close()
        self._by_fk = {}

    def put(self, key: Any, value: Any) -> None:
        """Store ``(wrapper, timestamp)`` under ``(fk, pk)``; ``None`` deletes."""
        _index(self._by_fk, key, value, value)
        super().put(key, value)

    def _restore(self, key: Any, value: Any) -> None:
        _index(self._by_fk, key, value, value)
        super()._restore(key, value)

    def subscribers(self, fk: Any) -> list[tuple[Any, Any]]:
        """``(left key, (wrapper, timestamp))`` of every subscription to ``fk``."""
        subs = _subscriptions_of(self._by_fk, fk)
        return [] if subs is None else list(subs.items())


class PersistentSubscriptionStore(PersistentKeyValueStore):
    """The subscription store in sqlite (``default.dsl.store: persistent``, as Kafka's
    subscription store follows the DSL store type), change-logged like the in-memory one.

    The index by foreign key holds keys only (values stay on disk, behind the store's
    cache); it is rebuilt from the file when the store opens, so a store reopened on the
    same state directory answers right-table updates without a restore."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._by_fk: dict[Any, dict[Any, Any]] = {}

    def init(self, directory: Any = None) -> None:
        super().init(directory)
        by_fk: dict[Any, dict[Any, Any]] = {}
        for key, value in self._live_items():
            _index(by_fk, key, value, None)
        self._by_fk = by_fk

    def close(self) -> None:
        super().close()
        self._by_fk = {}

    def put(self, key: Any, value: Any) -> None:
        """Store ``(wrapper, timestamp)`` under ``(fk, pk)``; ``None`` deletes."""
        _index(self._by_fk, key, value, None)
        super().put(key, value)

    def _restore(self, key: Any, value: Any) -> None:
        _index(self._by_fk, key, value, None)
        super()._restore(key, value)

    def subscribers(self, fk: Any) -> list[tuple[Any, Any]]:
        """``(left key, (wrapper, timestamp))`` of every subscription to ``fk``."""
        subs = _subscriptions_of(self._by_fk, fk)
        if subs is None:
            return []
        get = self.get
        return [(pk, get((fk, pk))) for pk in subs]


class SubscriptionSendNode(Node):
    """Left-table changes -> subscription records keyed by foreign key (Kafka's
    ``SubscriptionSendProcessorSupplier``: which instruction for which change)."""

    def __init__(self, extractor: Fn, left_join: bool, value_serde: Any,
                 default_key: DefaultKeySerde) -> None:
        super().__init__()
        self.extractor = extractor
        self.left_join = left_join
        self.value_serde = value_serde
        self.default_key = default_key

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        self.default_key.bind(ctx.config)
        self.serialize_value = _value_serializer(self.value_serde, ctx)
        if self.left_join:
            self.process = self._process_left  # type: ignore[method-assign]

    def _send(self, key: Any, new: Any, fk: Any, instruction: int, hashed: list) -> None:
        if not hashed:
            hashed.append(None if new is None else hash128(self.serialize_value(new)))
        self.forward(fk, SubscriptionWrapper(hashed[0], instruction, key, self.ctx.partition))

    def _process_left(self, key: Any, change: Any) -> None:
        if skip_table_change(self, key, change):
            return
        new, old = change
        extractor = self.extractor
        hashed: list = []
        if old is not None:
            old_fk = extractor(old)
            new_fk = None if new is None else extractor(new)
            if old_fk is not None and new_fk != old_fk:
                self._send(key, new, old_fk, DELETE_KEY_AND_PROPAGATE, hashed)
            self._send(key, new, new_fk, PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE, hashed)
        elif new is not None:
            self._send(key, new, extractor(new), PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE, hashed)

    def process(self, key: Any, change: Any) -> None:
        if skip_table_change(self, key, change):
            return
        new, old = change
        extractor = self.extractor
        hashed: list = []
        if old is not None:
            old_fk = extractor(old)
            if old_fk is None:
                self.ctx.record_dropped(self, "null foreign key")
                return
            if new is None:
                self._send(key, new, old_fk, DELETE_KEY_AND_PROPAGATE, hashed)
                return
            new_fk = extractor(new)
            if new_fk is None:
                self.ctx.record_dropped(self, "null foreign key")
                return
            if new_fk != old_fk:
                self._send(key, new, old_fk, DELETE_KEY_NO_PROPAGATE, hashed)
            # Also when no right row exists: a null "unsets" the previous FK's result.
            self._send(key, new, new_fk, PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE, hashed)
        elif new is not None:
            new_fk = extractor(new)
            if new_fk is None:
                self.ctx.record_dropped(self, "null foreign key")
                return
            self._send(key, new, new_fk, PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE, hashed)


class SubscriptionReceiveNode(Node):
    """Subscriptions arriving at the right side: update the store, pass them on keyed by
    ``(foreign key, left key)`` with their timestamp."""

    def __init__(self, store_name: str, default_key: DefaultKeySerde) -> None:
        super().__init__()
        self.store_name = store_name
        self.default_key = default_key

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        self.default_key.bind(ctx.config)
        self.store = ctx.get_store(self.store_name)

    def process(self, fk: Any, wrapper: Any) -> None:
        ts = self.ctx.timestamp
        if fk is None:
            # Only a left join sends a null foreign key; it is answered, never stored.
            if wrapper.instruction != PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE:
                self.ctx.record_dropped(self, "null foreign key")
                return
            self.forward((None, wrapper.primary_key), (wrapper, ts))
            return
        key = (fk, wrapper.primary_key)
        if wrapper.instruction <= DELETE_KEY_AND_PROPAGATE:  # the two DELETE_KEY_* ones
            self.store.put(key, None)
        else:
            self.store.put(key, (wrapper, ts))
        self.forward(key, (wrapper, ts))


class SubscriptionJoinNode(Node):
    """Answers one subscription with the right row's current value, per its instruction."""

    def __init__(self, right_getter: Any) -> None:
        super().__init__()
        self.right_getter = right_getter

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        self.get_right = self.right_getter.make(ctx).get

    def process(self, key: Any, value: Any) -> None:
        fk, pk = key
        wrapper, ts = value
        found = None if fk is None else self.get_right(fk)
        if found is not None and found[0] is None:
            found = None
        if found is not None and found[1] > ts:
            ts = found[1]
        instruction = wrapper.instruction
        if instruction == DELETE_KEY_AND_PROPAGATE:
            right = None
        elif instruction == PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE:
            right = None if found is None else found[0]
        elif instruction == PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE:
            if found is None:
                return
            right = found[0]
        else:  # DELETE_KEY_NO_PROPAGATE
            return
        self.forward_at(pk, SubscriptionResponseWrapper(wrapper.hash, right,
                                                         wrapper.primary_partition), ts)


class ForeignTableJoinNode(Node):
    """A right-table change: answer every left row subscribed to that right key."""

    def __init__(self, store_name: str) -> None:
        super().__init__()
        self.store_name = store_name

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        self.store = ctx.get_store(self.store_name)

    def process(self, fk: Any, change: Any) -> None:
        if skip_table_change(self, fk, change):
            return
        right = change[0]
        forward = self.forward
        for pk, (wrapper, _ts) in self.store.subscribers(fk):
            forward(pk, SubscriptionResponseWrapper(wrapper.hash, right,
                                                    wrapper.primary_partition))


class ResponseJoinNode(Node):
    """Answers back at the left side: join them with the current left row, unless the row
    changed since it subscribed (its value hash differs: a newer answer is on its way)."""

    def __init__(self, left_getter: Any, value_serde: Any, joiner: Fn, left_join: bool) -> None:
        super().__init__()
        self.left_getter = left_getter
        self.value_serde = value_serde
        self.joiner = joiner
        self.left_join = left_join

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        self.get_left = self.left_getter.make(ctx).get
        self.serialize_value = _value_serializer(self.value_serde, ctx)

    def process(self, key: Any, response: Any) -> None:
        found = self.get_left(key)
        current = None if found is None else found[0]
        current_hash = None if current is None else hash128(self.serialize_value(current))
        if response.hash != current_hash:
            return  # stale: Kafka drops it silently too
        right = response.foreign_value
        if right is None and (not self.left_join or current is None):
            self.forward(key, None)
        else:
            self.forward(key, self.joiner(current, right))


def response_partitioner(topic: str, key: Any, value: Any, num_partitions: int) -> int | None:
    """Answers go back to the partition of the left row that subscribed."""
    return value.primary_partition
