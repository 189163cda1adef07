"""Engine nodes of joins: stream-stream (windowed), stream-table, stream-global-table and
table-table joins.

Joiners are normalised at build time to ``join(key, left_value, right_value)`` so that every
node calls the user's function the same way; the right side of a stream-stream or
table-table join gets the reversed form, so users always see ``(left, right)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..engine.node import Node
from ._stateful import NotLatestChange, TableInfo

Fn = Callable[..., Any]
_NO_TIME = -(2**63)
_EMIT_INTERVAL_KEY = "__emit.interval.ms.kstreams.outer.join.spurious.results.fix__"


# -- stream-stream ---------------------------------------------------------------------------
class JoinWindowNode(Node):
    """``KSTREAM-WINDOWED``: passes each record on, then keeps it in its side's window store
    (after forwarding, as Kafka does, so a record never joins itself)."""

    def __init__(self, store_name: str) -> None:
        super().__init__()
        self.store_name = store_name

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        store = ctx.get_store(self.store_name)
        forward = self.forward
        data = getattr(store, "data", None)
        if data is None or store._change_logger is not None:
            put = store.put

            def process(key: Any, value: Any) -> None:
                forward(key, value)
                if key is not None:
                    put(key, value, ctx.timestamp)

            self.process = process  # type: ignore[method-assign]
            return
        # JoinWindowStore.put inlined (same rules): the per-record cost of a join side.
        from ..state.join_window import insert_in_order

        get = data.get
        retention = store.retention_ms

        def process_inline(key: Any, value: Any) -> None:
            forward(key, value)
            if key is None or value is None:
                return
            ts = ctx.timestamp
            if ts > store.observed_stream_time:
                store.observed_stream_time = ts
                if ts >= store._next_sweep:
                    store._sweep()
            elif ts <= store.observed_stream_time - retention:
                return
            entries = get(key)
            if entries is None:
                data[key] = [(ts, value)]
            elif entries[-1][0] <= ts:
                entries.append((ts, value))
            else:
                insert_in_order(entries, ts, value)

        self.process = process_inline  # type: ignore[method-assign]

    def process(self, key: Any, value: Any) -> None:  # replaced at init
        raise RuntimeError("JoinWindowNode used before init")


class SharedTimeTracker:
    """Stream time seen by both sides of one join in one task, and the oldest record waiting
    in the outer store (Kafka's ``TimeTracker``)."""

    __slots__ = ("stream_time", "min_time", "next_time_to_emit", "users")

    def __init__(self) -> None:
        self.stream_time = _NO_TIME
        self.min_time = float("inf")
        self.next_time_to_emit = 0
        self.users = 0


class TimeTrackers:
    """One tracker per task, shared by the two join nodes of that task. Keyed by the task's
    context object, so two drivers or runtimes over one topology never share one."""

    def __init__(self) -> None:
        self._by_task: dict[int, SharedTimeTracker] = {}

    def acquire(self, task_id: int) -> SharedTimeTracker:
        tracker = self._by_task.get(task_id)
        if tracker is None:
            tracker = self._by_task[task_id] = SharedTimeTracker()
        tracker.users += 1
        return tracker

    def release(self, task_id: int) -> None:
        tracker = self._by_task.get(task_id)
        if tracker is not None:
            tracker.users -= 1
            if tracker.users <= 0:
                del self._by_task[task_id]


class StreamStreamJoinNode(Node):
    """``KSTREAM-JOINTHIS`` / ``-JOINOTHER`` / ``-OUTERTHIS`` / ``-OUTEROTHER``: joins each
    record with the other side's window store; left/outer sides park unmatched records in
    the shared outer store until their window closes (Kafka's spurious-result fix)."""

    def __init__(self, *, other_store: str, outer_store: str | None, join: Fn, is_left: bool,
                 outer: bool, before_ms: int, after_ms: int, grace_ms: int,
                 trackers: TimeTrackers) -> None:
        super().__init__()
        self.other_store_name = other_store
        self.outer_store_name = outer_store
        self.join = join  # join(key, this_value, other_value), already side-ordered
        self.is_left = is_left
        self.outer = outer
        # This side's look-back and look-ahead (the right side swaps the windows').
        self.join_before = before_ms if is_left else after_ms
        self.join_after = after_ms if is_left else before_ms
        self.windows_before = before_ms
        self.windows_after = after_ms
        self.grace = grace_ms
        self.trackers = trackers
        self.tracker: SharedTimeTracker = None  # type: ignore[assignment]

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        self.tracker = self.trackers.acquire(id(ctx))
        self.other = ctx.get_store(self.other_store_name)
        self.outer_store = (None if self.outer_store_name is None
                            else ctx.get_store(self.outer_store_name))
        self.emit_interval = int(ctx.config.get(_EMIT_INTERVAL_KEY, 0))
        self.side = 0 if self.is_left else 1
        if self.outer_store is None and not self.outer:
            # Inner joins need no shared stream time: nothing is emitted later.
            self.process = self._make_inner()  # type: ignore[method-assign]

    def close(self) -> None:
        if self.ctx is not None:
            self.trackers.release(id(self.ctx))

    def _process_inner(self, key: Any, value: Any) -> None:  # replaced at init
        raise RuntimeError("StreamStreamJoinNode used before init")

    def _make_inner(self) -> Callable[[Any, Any], None]:
        """Inner join: the hot path, with nothing to park or emit later. Reads the other
        side's join store directly when it is streamnb's ``JoinWindowStore``."""
        ctx = self.ctx
        other = self.other
        join = self.join
        forward, forward_at = self.forward, self.forward_at
        before, after = self.join_before, self.join_after
        dropped = ctx.record_dropped
        node = self
        data = getattr(other, "data", None)
        if data is None or not hasattr(other, "observed_stream_time"):
            fetch = other.fetch

            def process_generic(key: Any, value: Any) -> None:
                if key is None or value is None:
                    dropped(node, "null key or value")
                    return
                ts = ctx.timestamp
                low, high = ts - before, ts + after
                for other_ts, other_value in fetch(key, low if low > 0 else 0,
                                                   high if high > 0 else 0):
                    if other_ts <= ts:
                        forward(key, join(key, value, other_value))
                    else:
                        forward_at(key, join(key, value, other_value), other_ts)

            return process_generic
        live_offset = other.retention_ms - 1
        get = data.get
        pair = getattr(join, "pair", None)
        if pair is not None:
            return self._make_inner_pair(pair, data, live_offset)

        def process(key: Any, value: Any) -> None:
            if key is None or value is None:
                dropped(node, "null key or value")
                return
            entries = get(key)
            if not entries:
                return
            ts = ctx.timestamp
            low = ts - before
            live = other.observed_stream_time - live_offset
            if low < live:
                low = live
            if low < 0:
                low = 0
            high = ts + after
            if high < 0:
                high = 0
            for other_ts, other_value in entries:
                if other_ts < low:
                    continue
                if other_ts > high:
                    break
                if other_ts <= ts:
                    forward(key, join(key, value, other_value))
                else:
                    forward_at(key, join(key, value, other_value), other_ts)

        return process

    def _make_inner_pair(self, pair: Fn, data: dict[Any, Any], live_offset: int
                         ) -> Callable[[Any, Any], None]:
        """``_make_inner`` for a ``(value, other_value)`` joiner: one call per match."""
        ctx, other = self.ctx, self.other
        forward, forward_at = self.forward, self.forward_at
        before, after = self.join_before, self.join_after
        dropped = ctx.record_dropped
        node = self
        get = data.get

        def process(key: Any, value: Any) -> None:
            if key is None or value is None:
                dropped(node, "null key or value")
                return
            entries = get(key)
            if not entries:
                return
            ts = ctx.timestamp
            low = ts - before
            live = other.observed_stream_time - live_offset
            if low < live:
                low = live
            if low < 0:
                low = 0
            high = ts + after
            if high < 0:
                high = 0
            for other_ts, other_value in entries:
                if other_ts < low:
                    continue
                if other_ts > high:
                    break
                if other_ts <= ts:
                    forward(key, pair(value, other_value))
                else:
                    forward_at(key, pair(value, other_value), other_ts)

        return process

    def process(self, key: Any, value: Any) -> None:
        ctx = self.ctx
        ts = ctx.timestamp
        tracker = self.tracker
        if ts > tracker.stream_time:
            tracker.stream_time = ts
        if self.outer and key is None and value is not None:
            self.forward(key, self.join(key, value, None))
            return
        if key is None or value is None:
            ctx.record_dropped(self, "null key or value")
            return
        outer_store = self.outer_store
        if outer_store is not None and ts == tracker.stream_time:
            self._emit_non_joined(outer_store)
        low = ts - self.join_before
        high = ts + self.join_after
        if high < 0:
            high = 0
        matched = False
        other_side = 1 - self.side
        for other_ts, other_value in self.other.fetch(key, low if low > 0 else 0, high):
            matched = True
            if outer_store is not None:
                outer_store.remove(other_ts, other_side, key)
            self.forward_at(key, self.join(key, value, other_value),
                            ts if ts > other_ts else other_ts)
        if self.outer and not matched:
            if outer_store is None or high < tracker.stream_time:
                self.forward(key, self.join(key, value, None))
            else:
                if ts < tracker.min_time:
                    tracker.min_time = ts
                outer_store.add(ts, self.side, key, value)

    def _emit_non_joined(self, store: Any) -> None:
        """Emit parked records whose window has closed (Kafka's ``emitNonJoinedOuterRecords``,
        including its early exits)."""
        tracker = self.tracker
        stream_time = tracker.stream_time
        if tracker.min_time + self.join_after + self.grace >= stream_time:
            return
        if self.emit_interval > 0:
            now = self.ctx.wall_clock()
            if now < tracker.next_time_to_emit:
                return
            tracker.next_time_to_emit = now + self.emit_interval
        tracker.min_time = float("inf")
        order = store.ordered()
        keep: list[tuple[int, int, int, Any]] = []
        left_open = right_open = False
        grace = self.grace
        index = 0
        count = len(order)
        while index < count:
            entry = order[index]
            ts, side, _seq, key = entry
            values = store.values(ts, side, key)
            if values is None:  # matched later, or already emitted under another index
                index += 1
                continue
            tracker.min_time = ts
            if left_open and right_open:
                break
            look = self.windows_after if side == 0 else self.windows_before
            if ts + look + grace >= stream_time:
                if side == 0:
                    left_open = True
                else:
                    right_open = True
                keep.append(entry)
                index += 1
                continue
            for value in values:
                if side == 0:
                    out = self._join_left(key, value, None)
                else:
                    out = self._join_left(key, None, value)
                self.forward_at(key, out, ts)
            store.remove(ts, side, key)
            index += 1
        keep.extend(order[index:])
        store.compact(keep)

    def _join_left(self, key: Any, left: Any, right: Any) -> Any:
        """The user's joiner in (left, right) order, whichever side this node is."""
        if self.is_left:
            return self.join(key, left, right)
        return self.join(key, right, left)


# -- stream-table and stream-global-table ---------------------------------------------------
class StreamTableJoinNode(Node):
    """``KSTREAM-JOIN`` / ``KSTREAM-LEFTJOIN``: looks each stream record up in the table
    (as of the record's timestamp for a versioned table); table updates emit nothing."""

    def __init__(self, getter_supplier: Any, join: Fn, left: bool,
                 key_mapper: Fn | None = None) -> None:
        super().__init__()
        self.getter_supplier = getter_supplier
        self.join = join  # join(key, stream_value, table_value)
        self.left = left
        self.key_mapper = key_mapper

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        getter = self.getter_supplier.make(ctx)
        self.versioned = getter.versioned
        self.get = getter.get

    def process(self, key: Any, value: Any) -> None:
        mapper = self.key_mapper
        table_key = key if mapper is None else mapper(key, value)
        if (table_key is None or value is None) and not (
            self.left and key is None and value is not None
        ):
            self.ctx.record_dropped(self, "null join key or value")
            return
        if table_key is None:
            found = None
        elif self.versioned:
            found = self.get(table_key, self.ctx.timestamp)
        else:
            found = self.get(table_key)
        table_value = None if found is None else found[0]
        if table_value is None and not self.left:
            return
        self.forward(key, self.join(key, value, table_value))


# -- table-table -----------------------------------------------------------------------------
class TableTableJoinNode(Node):
    """``KTABLE-JOINTHIS`` / ``KTABLE-JOINOTHER``: on a change of this side, joins it with
    the other side's current value. ``this_outer``/``other_outer`` say which sides may be
    missing (inner: neither; left: the other side for this=left; outer: both)."""

    def __init__(self, info: TableInfo, getter_supplier: Any, join: Fn, this_outer: bool,
                 other_outer: bool) -> None:
        super().__init__()
        self.info = info  # shared by both sides: send_old_values of the join result
        self.getter_supplier = getter_supplier
        self.join = join  # join(this_value, other_value) in the user's (left, right) order
        self.this_outer = this_outer
        self.other_outer = other_outer

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        self.get = self.getter_supplier.make(ctx).get
        self.send_old = self.info.send_old_values

    def process(self, key: Any, change: Any) -> None:
        if key is None:
            self.ctx.record_dropped(self, "null key")
            return
        if type(change) is NotLatestChange:
            self.ctx.record_dropped(self, "out-of-order update of a versioned table")
            return
        new, old = change
        found = self.get(key)
        other = None if found is None else found[0]
        ts = self.ctx.timestamp
        join = self.join
        if other is None:
            if not self.other_outer:
                return  # nothing to join with (inner, or the right side of a left join)
            if new is None and old is None:
                return
            result_ts = ts
        else:
            result_ts = ts if ts >= found[1] else found[1]
        if new is not None or (other is not None and self.this_outer):
            new_out = join(new, other)
        else:
            new_out = None
        old_out = None
        if self.send_old and (old is not None or (other is not None and self.this_outer)):
            old_out = join(old, other)
        self.forward_at(key, (new_out, old_out), result_ts)


class TableJoinMergeNode(Node):
    """``KTABLE-MERGE``: the output of both join sides; stores it when materialized."""

    def __init__(self, info: TableInfo) -> None:
        super().__init__()
        self.info = info

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        self.store = None
        if self.info.store_name is not None:
            self.store = ctx.get_store(self.info.store_name)
            if getattr(self.store, "kind", None) == "versioned":
                from ..state.versioned import VersionedTableStore

                self.store = VersionedTableStore(self.store, ctx)
        self.send_old = self.info.send_old_values

    def process(self, key: Any, change: Any) -> None:
        store = self.store
        if store is not None:
            new = change[0]
            store.put(key, None if new is None else (new, self.ctx.timestamp))
            self.forward(key, change if self.send_old else (new, None))
        else:
            self.forward(key, change if self.send_old else (change[0], None))
