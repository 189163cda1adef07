"""Engine nodes of joins: stream-stream (windowed), stream-table, stream-global-table and
table-table joins.

Joiners are normalised at build time to ``join(key, left_value, right_value)`` so that every
node calls the user's function the same way; the right side of a stream-stream or
table-table join gets the reversed form, so users always see ``(left, right)``.
"""

from __future__ import annotations

import linecache
from collections.abc import Callable
from typing import Any

from ..engine.node import Node
from ..engine.node_counts import counting_levels
from ..errors import TopologyException
from ..state.join_window import MAX_SEQ, JoinWindowStore, drop_expired, insert_in_order
from ._stateful import NotLatestChange, TableInfo
from ._stateless import PassThroughNode

Fn = Callable[..., Any]
_NO_TIME = -(2**63)
NOT_VERSIONED = "KTable must be versioned to use a grace period in a stream table join."
_EMIT_INTERVAL_KEY = "__emit.interval.ms.kstreams.outer.join.spurious.results.fix__"


# -- stream-stream ---------------------------------------------------------------------------
class JoinWindowNode(Node):
    """``KSTREAM-WINDOWED``: passes each record on, then keeps it in its side's window store
    (after forwarding, as Kafka does, so a record never joins itself).

    Its only child is the side's join node; when that is a ``StreamStreamJoinNode`` the two
    run as one function (the join's ``process_fn(remember=store)``), one call per record.
    When both sides' stores are ``JoinWindowStore``s they share one dict (``share_with``),
    so that function finds both sides' records of a key in one lookup.
    """

    def __init__(self, store_name: str) -> None:
        super().__init__()
        self.store_name = store_name

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        store = ctx.get_store(self.store_name)
        children = self.children
        if len(children) == 1 and isinstance(children[0], StreamStreamJoinNode):
            join = children[0]
            if (isinstance(store, JoinWindowStore) and isinstance(join.other, JoinWindowStore)
                    and store.share_with(join.other)):
                # The join node (initialised first) read the stores before they shared.
                join.process = join.process_fn(remember=None)  # type: ignore[method-assign]
            self.process = join.process_fn(remember=store)  # type: ignore[method-assign]
            return
        forward, put = self.forward, store.put

        def process(key: Any, value: Any) -> None:
            forward(key, value)
            if key is not None:
                put(key, value, ctx.timestamp)

        self.process = process  # type: ignore[method-assign]

    def process(self, key: Any, value: Any) -> None:  # replaced at init
        raise RuntimeError("JoinWindowNode used before init")


class SharedTimeTracker:
    """Stream time seen by both sides of one join in one task, and the oldest record waiting
    in the outer store (Kafka's ``TimeTracker``)."""

    __slots__ = ("stream_time", "min_time", "next_time_to_emit", "users")

    def __init__(self) -> None:
        self.stream_time = _NO_TIME
        # Unknown until the outer store is first scanned: it may hold records restored
        # from a changelog or a local file. Kafka's starts at Long.MAX_VALUE, whose sum
        # with the window overflows, so its first emission attempt scans the store too.
        self.min_time = float("-inf")
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


def _reader(store: Any) -> tuple[Any, Any]:
    """How a join reads a side's store: ``(pairs.get, None)`` for streamnb's
    ``JoinWindowStore`` (read in place, at ``pairs[key][store.side]``), else
    ``(None, fetch)`` for any window store."""
    if isinstance(store, JoinWindowStore):
        return store.pairs.get, None
    return None, store.fetch


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
        self.process = self.process_fn(remember=None)  # type: ignore[method-assign]

    def close(self) -> None:
        if self.ctx is not None:
            self.trackers.release(id(self.ctx))

    def process(self, key: Any, value: Any) -> None:  # replaced at init
        raise RuntimeError("StreamStreamJoinNode used before init")

    def _result_forwards(self) -> tuple[Callable[[Any, Any], None], Callable[..., None]]:
        """``(forward, forward_at)`` for join results. The join's only child is the
        ``KSTREAM-MERGE`` of both sides, a pass-through: results go straight to its
        children (one call less per result), unless node metrics are recorded (DEBUG),
        where the merge counts its records."""
        children = self.children
        if (len(children) == 1 and type(children[0]) is PassThroughNode
                and not counting_levels(self.ctx.config)[0]):
            merge = children[0]
            return merge.forward, merge.forward_at
        return self.forward, self.forward_at

    def process_fn(self, remember: Any) -> Callable[[Any, Any], None]:
        """This side's per-record function: join the record with the other side's window,
        park or emit what found no partner (left/outer), and - when ``remember`` is this
        side's window store - keep the record there afterwards (the ``KSTREAM-WINDOWED``
        node's job, run here to save a call per record).

        Everything per record is a local: the hot path of every stream-stream join.
        """
        if (not self.outer and self.outer_store is None and isinstance(self.other, JoinWindowStore)
                and isinstance(remember, JoinWindowStore)
                and (remember.log_buffer is not None or remember._change_logger is None)):
            return self._inner_fn(remember)
        ctx, node = self.ctx, self
        (forward, forward_at), dropped = self._result_forwards(), ctx.record_dropped
        join = self.join
        pair = getattr(join, "pair", None)  # a (value, other_value) joiner: skip the key
        before, after = self.join_before, self.join_after
        other = self.other
        get_other, fetch_other = _reader(other)
        other_slot = getattr(other, "side", 0)
        live_offset = getattr(other, "retention_ms", 0) - 1
        outer, outer_store = self.outer, self.outer_store
        # Stream time shared by both sides matters only when records wait for it.
        tracker = self.tracker if (outer or outer_store is not None) else None
        side, other_side = self.side, 1 - self.side
        emit_non_joined = self._emit_non_joined
        # ``remember``: inline JoinWindowStore.put (same rules) or call a store's put.
        own = remember if isinstance(remember, JoinWindowStore) else None
        put = remember.put if remember is not None and own is None else None
        if own is not None:
            own_pairs, own_get, own_slot = own.pairs, own.pairs.get, own.side
            own_retention = own.retention_ms
            # The task's batched changelog (a list), else a per-write logger (or None).
            log_buffer = own.log_buffer
            log_append = log_buffer.append if log_buffer is not None else None
            log_entry = own.log_entries.append
            log = own._change_logger if log_buffer is None else None

        def process(key: Any, value: Any) -> None:
            ts = ctx.timestamp
            if tracker is not None and ts > tracker.stream_time:
                tracker.stream_time = ts
            if key is None or value is None:
                if outer and key is None and value is not None:
                    forward(key, join(key, value, None))
                else:
                    dropped(node, "null key or value")
                return
            if outer_store is not None and ts == tracker.stream_time:
                emit_non_joined(outer_store)
            high = ts + after
            if high < 0:
                high = 0
            matched = False
            low = ts - before
            if get_other is not None:
                found = get_other(key)
                entries = found[other_slot] if found is not None else ()
                live = other.observed_stream_time - live_offset
                if entries and entries[0][0] < live:  # a read drops the expired head too
                    if entries[-1][0] < live:
                        entries.clear()
                    else:
                        drop_expired(entries, live - 1)
                if low < live:
                    low = live
            else:
                entries = fetch_other(key, low if low > 0 else 0, high)
            if low < 0:
                low = 0
            for other_ts, other_value in entries:
                if other_ts < low:
                    continue
                if other_ts > high:
                    break
                matched = True
                if outer_store is not None:
                    outer_store.remove(other_ts, other_side, key)
                joined = (pair(value, other_value) if pair is not None
                          else join(key, value, other_value))
                if other_ts <= ts:
                    forward(key, joined)
                else:
                    forward_at(key, joined, other_ts)
            if outer and not matched:
                if outer_store is None or high < tracker.stream_time:
                    forward(key, join(key, value, None))
                else:
                    if ts < tracker.min_time:
                        tracker.min_time = ts
                    outer_store.add(ts, side, key, value)
            if own is not None:
                observed = own.observed_stream_time
                if ts > observed:
                    own.observed_stream_time = observed = ts
                    if ts >= own.next_sweep:
                        own.sweep()
                elif ts <= observed - own_retention:
                    return  # "Skipping record for expired segment."
                entry = (ts, value)
                found = own_get(key)
                if found is None:
                    own_pairs[key] = [[entry], []] if own_slot == 0 else [[], [entry]]
                else:
                    mine = found[own_slot]
                    if not mine or mine[-1][0] <= ts:
                        mine.append(entry)
                    else:
                        insert_in_order(mine, entry)
                if log_append is not None:
                    log_append(key)
                    log_entry(entry)
                elif log is not None:
                    own.seq = seq = (own.seq + 1) & MAX_SEQ
                    log((key, ts, seq), (value, ts))
            elif put is not None:
                put(key, value, ts)

        return process

    def _inner_fn(self, own: JoinWindowStore) -> Callable[[Any, Any], None]:
        """``process_fn`` of an inner join whose two sides are ``JoinWindowStore``s (the
        default): no outer store, no shared stream time, stores read and written in place,
        and the write's changelog record appended to the store's batch (if logged). Same
        rules as the general function, minus the branches that cannot apply.

        Generated from ``_INNER_TEMPLATE`` so that the joiner call (a two-argument joiner,
        swapped on the right side, or a key joiner), the logging branch, the two sides'
        slots in the stores' dicts, and whether the stores share one dict (one lookup per
        record, else a second one for this side's list) are fixed per node rather than
        tested per record and result.
        """
        join = self.join
        pair = getattr(join, "pair", None)
        swapped = getattr(join, "swapped_pair", None)
        if swapped is not None:  # the right side of a (left, right) two-argument joiner
            pair, joined = swapped, "pair(other_value, value)"
        elif pair is not None:
            joined = "pair(value, other_value)"
        else:
            joined = "join(key, value, other_value)"
        log_append = own.log_buffer.append if own.log_buffer is not None else None
        log = "\n    log_append(key)\n    log_entry(entry)" if log_append is not None else ""
        other = self.other
        forward, forward_at = self._result_forwards()
        scope = {
            "ctx": self.ctx, "node": self, "forward": forward,
            "forward_at": forward_at, "dropped": self.ctx.record_dropped,
            "join": join, "pair": pair, "before": self.join_before,
            "after": self.join_after, "other": other, "get_other": other.pairs.get,
            "live_offset": other.retention_ms - 1, "own": own, "own_pairs": own.pairs,
            "own_get": own.pairs.get, "own_retention": own.retention_ms,
            "insert_in_order": insert_in_order, "log_append": log_append,
            "log_entry": own.log_entries.append,
        }
        shared = own.pairs is other.pairs
        own_lookup = "" if shared else "\n    both = own_get(key)"
        new_pair = "[[entry], []]" if own.side == 0 else "[[], [entry]]"
        text = _INNER_TEMPLATE.format(joined=joined, log=log, theirs=other.side, mine=own.side,
                                      own_lookup=own_lookup, new_pair=new_pair)
        filename = f"<stream-stream join {self.name}>"
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
        exec(compile(text, filename, "exec"), scope)  # noqa: S102 - fixed template
        return scope["process"]  # type: ignore[no-any-return]

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
    (as of the record's timestamp for a versioned table); table updates emit nothing.

    With a grace period (``Joined.with_grace_period``, versioned tables only) records wait
    in the ``<name>-Buffer`` store until stream time is ``grace`` past them and are then
    joined in timestamp order, so a table update that arrives a little late still counts;
    a record already older than the grace is joined at once (Kafka's
    ``KStreamKTableJoinProcessor``).
    """

    def __init__(self, getter_supplier: Any, join: Fn, left: bool,
                 key_mapper: Fn | None = None, buffer_store: str | None = None) -> None:
        super().__init__()
        self.getter_supplier = getter_supplier
        self.join = join  # join(key, stream_value, table_value)
        self.left = left
        self.key_mapper = key_mapper
        self.buffer_store = buffer_store
        self.observed_stream_time = _NO_TIME

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        getter = self.getter_supplier.make(ctx)
        self.versioned = getter.versioned
        self.get = getter.get
        self.buffer = None
        if self.buffer_store is not None:
            if not self.versioned:
                raise TopologyException(NOT_VERSIONED)
            self.buffer = ctx.get_store(self.buffer_store)

    def process(self, key: Any, value: Any) -> None:
        ctx = self.ctx
        ts = ctx.timestamp
        if ts > self.observed_stream_time:
            self.observed_stream_time = ts
        mapper = self.key_mapper
        table_key = key if mapper is None else mapper(key, value)
        if (table_key is None or value is None) and not (
            self.left and key is None and value is not None
        ):
            ctx.record_dropped(self, "null join key or value")
            return
        buffer = self.buffer
        if buffer is None or not buffer.put(self.observed_stream_time, key, value, ts,
                                            ctx.headers):
            self._join(key, value, table_key)
            return
        saved = ctx.timestamp, ctx.headers
        try:
            for b_key, b_value, b_ts, b_headers in buffer.evict(self.observed_stream_time):
                ctx.timestamp, ctx.headers = b_ts, b_headers
                self._join(b_key, b_value, b_key if mapper is None else mapper(b_key, b_value))
        finally:
            ctx.timestamp, ctx.headers = saved

    def _join(self, key: Any, value: Any, table_key: Any) -> None:
        """Join one record with the table (as of its timestamp if versioned) and emit."""
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
def skip_table_change(node: Node, key: Any, change: Any) -> bool:
    """What every table-side join node (table-table and foreign-key) drops, counted: a null
    key, or an out-of-order update of a versioned table (it is not the latest value, so
    joining it would emit a stale result)."""
    if key is None:
        node.ctx.record_dropped(node, "null key")
        return True
    if type(change) is NotLatestChange:
        node.ctx.record_dropped(node, "out-of-order update of a versioned table")
        return True
    return False


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
        if skip_table_change(self, key, change):
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


# The inner join's per-record function (see ``StreamStreamJoinNode._inner_fn``). ``both``
# is the key's ``[list, list]`` of the shared dict (both sides' records in one lookup). A
# read of the other side first drops that key's expired head (records older than the
# store's retention; the list is sorted, so a short scan from the front): what is left is
# live, so only the join window bounds the partners. A sweep may remove the key: look again.
_INNER_TEMPLATE = """
def process(key, value):
    if key is None or value is None:
        dropped(node, "null key or value")
        return
    ts = ctx.timestamp
    both = get_other(key)
    entries = both[{theirs}] if both is not None else None
    if entries:
        live = other.observed_stream_time - live_offset
        if entries[0][0] < live:
            if entries[-1][0] < live:
                entries.clear()
            else:
                cut = 1
                while entries[cut][0] < live:
                    cut += 1
                del entries[:cut]
        low = ts - before
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
                forward(key, {joined})
            else:
                forward_at(key, {joined}, other_ts)
    observed = own.observed_stream_time
    if ts > observed:
        own.observed_stream_time = ts
        if ts >= own.next_sweep:
            own.sweep()
            both = own_get(key)
    elif ts <= observed - own_retention:
        return  # "Skipping record for expired segment."
    entry = (ts, value){own_lookup}
    if both is None:
        own_pairs[key] = {new_pair}
    else:
        mine = both[{mine}]
        if not mine or mine[-1][0] <= ts:
            mine.append(entry)
        else:
            insert_in_order(mine, entry){log}
"""
