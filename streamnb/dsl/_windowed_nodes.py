"""Engine nodes of windowed aggregations: time (tumbling/hopping), sliding and session.

They follow Kafka's processors (``KStreamWindowAggregate``, ``KStreamSlidingWindowAggregate``,
``KStreamSessionWindowAggregate``): each node tracks its own observed stream time (max
timestamp it has seen), drops records for windows that closed (``end + grace`` passed, or
``end + gap + grace`` for sessions) and counts them with ``ctx.record_dropped``, and forwards
``Windowed`` keys with ``(new, old)`` changes - on every update, or once per window when it
closes (``EmitStrategy.on_window_close``). Stores keep ``(aggregate, timestamp)`` for time and
sliding windows (the timestamp is the max record timestamp in the window) and plain
aggregates for sessions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..engine.node import Node
from ..state.processor_metadata import ProcessorMetadata
from .windows import SessionWindow, TimeWindow, Windowed, _windowed

Fn = Callable[..., Any]
NO_TIME = -1
EMIT_INTERVAL_KEY = "__emit.interval.ms.kstreams.windowed.aggregation__"
_EXPIRED = "expired window"


_time_windowed = _windowed  # a Windowed over a TimeWindow, built without validation


def _session_windowed(key: Any, start: int, end: int) -> Windowed:
    windowed = object.__new__(Windowed)
    window = object.__new__(SessionWindow)
    window.start = start
    window.end = end
    windowed.key = key
    windowed.window = window
    return windowed


class _WindowedAggregateBase(Node):
    """Store, old-value flag and emit-on-close bookkeeping shared by the three nodes."""

    def __init__(self, store_name: str, info: Any, emit_on_close: bool) -> None:
        super().__init__()
        self.store_name = store_name
        self.info = info
        self.emit_on_close = emit_on_close
        self.observed_stream_time = NO_TIME
        self.last_emit_close_time = NO_TIME
        self._next_emit_wall = NO_TIME

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        self.store = ctx.get_store(self.store_name)
        self.send_old = self.info.send_old_values
        self._emit_interval = int(ctx.config.get(EMIT_INTERVAL_KEY, 0) or 0)
        # The last emitted close time survives restarts as Kafka keeps it: in the task's
        # processor metadata (key = store name), committed with the input offsets and
        # handed back by ``restore_processor_metadata`` when the task is assigned again.
        metadata = getattr(getattr(ctx, "task", None), "processor_metadata", None)
        self._metadata = ProcessorMetadata() if metadata is None else metadata
        if self.emit_on_close:
            self.restore_processor_metadata(self._metadata)

    def restore_processor_metadata(self, metadata: Any) -> None:
        """Take the last emitted close time from committed metadata (the task calls this
        after reading its partitions' committed offsets)."""
        if self.emit_on_close:
            last = metadata.get(self.store_name)
            if last is not None:
                self.last_emit_close_time = last

    def _emitted(self, close_time: int) -> None:
        self.last_emit_close_time = close_time
        self._metadata.put(self.store_name, close_time)

    def _should_emit_final(self, close_time: int) -> bool:
        """Kafka's throttle (wall-clock emit interval; 0 by default here, as in its test
        driver) and "only when the close time moved on"."""
        if self._emit_interval > 0:
            now = self.ctx.wall_clock()
            if now < self._next_emit_wall:
                return False
            self._next_emit_wall = now + self._emit_interval
        last = self.last_emit_close_time
        return last == NO_TIME or last < close_time

    def _emit(self, pairs: Any, headers: Any) -> None:
        """Forward final results ``(Windowed, agg, timestamp)`` with the current headers."""
        ctx = self.ctx
        forward = self.forward
        saved = ctx.timestamp
        try:
            for windowed, agg, ts in pairs:
                ctx.timestamp = ts
                forward(windowed, (agg, None))
        finally:
            ctx.timestamp = saved


class TimeWindowAggregateNode(_WindowedAggregateBase):
    """Tumbling and hopping windows (``TimeWindows``)."""

    def __init__(self, store_name: str, info: Any, windows: Any, initializer: Fn,
                 aggregator: Fn, emit_on_close: bool) -> None:
        super().__init__(store_name, info, emit_on_close)
        self.windows = windows
        self.initializer = initializer
        self.aggregator = aggregator

    #: set by the DSL for ``count()``: add 1 instead of calling the aggregator
    counting = False

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        segments = getattr(self.store, "hot_segments", None)
        windows = self.windows
        if segments is not None and windows.advance_ms == windows.size_ms:
            self.process = self._tumbling_in_memory(ctx)  # type: ignore[method-assign]
        else:
            self.process = self._generic(ctx)  # type: ignore[method-assign]

    def _tumbling_in_memory(self, ctx: Any) -> Callable[[Any, Any], None]:
        """The hot path for tumbling windows over the in-memory store: one window per record,
        the store's dicts read and written directly, the window object shared per start."""
        store = self.store
        segments = store.hot_segments()
        size = self.windows.size_ms
        grace = self.windows.grace_ms
        initializer, aggregator = self.initializer, self.aggregator
        counting = self.counting
        forward = self.forward
        dropped = ctx.record_dropped
        send_old = self.send_old
        emit_on_close = self.emit_on_close
        node = self
        new = object.__new__
        windowed_cls = Windowed
        window_cache: dict[int, TimeWindow] = {}

        def process(key: Any, value: Any) -> None:
            if key is None:
                dropped(node, "null key")
                return
            ts = ctx.timestamp
            observed = node.observed_stream_time
            if ts > observed:
                node.observed_stream_time = observed = ts
            if emit_on_close:
                node._maybe_emit_final(observed - grace)
            start = ts - ts % size
            if start + size <= observed - grace:
                dropped(node, _EXPIRED)
                return
            segment = segments.get(start)
            old = None if segment is None else segment.get(key)
            if old is None:
                old_agg = initializer()
                new_ts = ts
            else:
                old_agg, new_ts = old
                if ts > new_ts:
                    new_ts = ts
            new_agg = old_agg + 1 if counting else aggregator(key, value, old_agg)
            stored = (new_agg, new_ts)
            if segment is None or start > store.observed_stream_time:
                store.put(key, stored, start)  # new window start: expiry, index, logging
            else:
                segment[key] = stored
                logger = store._change_logger
                if logger is not None:
                    logger((key, start), stored)
            if emit_on_close:
                return
            window = window_cache.get(start)
            if window is None:
                if len(window_cache) > 64:
                    window_cache.clear()
                window = window_cache[start] = _time_windowed(None, start, start + size).window
            windowed = new(windowed_cls)
            windowed.key = key
            windowed.window = window
            if new_ts == ts:
                forward(windowed, (new_agg, old_agg if send_old else None))
            else:
                ctx.timestamp = new_ts
                try:
                    forward(windowed, (new_agg, old_agg if send_old else None))
                finally:
                    ctx.timestamp = ts

        return process

    def _generic(self, ctx: Any) -> Callable[[Any, Any], None]:
        store = self.store
        fetch, put_raw = store.fetch, store.put
        size = self.windows.size_ms
        advance = self.windows.advance_ms
        grace = self.windows.grace_ms
        initializer, aggregator = self.initializer, self.aggregator
        forward = self.forward
        dropped = ctx.record_dropped
        send_old = self.send_old
        emit_on_close = self.emit_on_close
        node = self
        make_key = _time_windowed

        def process(key: Any, value: Any) -> None:
            if key is None:
                dropped(node, "null key")
                return
            ts = ctx.timestamp
            observed = node.observed_stream_time
            if ts > observed:
                node.observed_stream_time = observed = ts
            close_time = observed - grace
            if emit_on_close:
                # Before the puts: a put that moves the store's time on expires exactly the
                # windows that just closed (retention = size + grace). Closed windows are not
                # touched by this record, so the emitted results are Kafka's.
                node._maybe_emit_final(close_time)
            start = ts - size + advance
            start = 0 if start < 0 else (start // advance) * advance
            while start <= ts:
                end = start + size
                if end > close_time:
                    old = fetch(key, start)
                    if old is None:
                        old_agg = initializer()
                        new_ts = ts
                    else:
                        old_agg, new_ts = old
                        if ts > new_ts:
                            new_ts = ts
                    new_agg = aggregator(key, value, old_agg)
                    put_raw(key, (new_agg, new_ts), start)
                    if not emit_on_close:
                        change = (new_agg, old_agg if send_old else None)
                        if new_ts == ts:
                            forward(make_key(key, start, end), change)
                        else:
                            ctx.timestamp = new_ts
                            try:
                                forward(make_key(key, start, end), change)
                            finally:
                                ctx.timestamp = ts
                else:
                    dropped(node, _EXPIRED)
                start += advance

        return process

    def process(self, key: Any, value: Any) -> None:  # replaced at init
        raise AssertionError("node not initialised")

    def _maybe_emit_final(self, close_time: int) -> None:
        if not self._should_emit_final(close_time):
            return
        windows = self.windows
        size = windows.size_ms
        upper = close_time - size
        if upper < 0:
            return
        last = self.last_emit_close_time
        lower = 0 if last == NO_TIME else max(0, last - size) + 1
        if last != NO_TIME and (windows.windows_for(upper).keys()
                                == windows.windows_for(lower - 1).keys()):
            return  # no window closed since the last emission
        rows = [(kv[0], kv[1][0], kv[1][1]) for kv in self.store.fetch_all(lower, upper)]
        self._emit(rows, self.ctx.headers)
        self._emitted(close_time)


class SlidingWindowAggregateNode(_WindowedAggregateBase):
    """Sliding windows: Kafka's left/right window algorithm (windows ``[start, start + d]``,
    both ends inclusive; one window ends at each record, one starts right after it)."""

    def __init__(self, store_name: str, info: Any, windows: Any, initializer: Fn,
                 aggregator: Fn, emit_on_close: bool) -> None:
        super().__init__(store_name, info, emit_on_close)
        self.windows = windows
        self.d = windows.time_difference_ms
        self.grace = windows.grace_ms
        self.initializer = initializer
        self.aggregator = aggregator

    def process(self, key: Any, value: Any) -> None:
        ctx = self.ctx
        if key is None or value is None:
            ctx.record_dropped(self, "null key or value")
            return
        ts = ctx.timestamp
        if ts > self.observed_stream_time:
            self.observed_stream_time = ts
        close_time = self.observed_stream_time - self.grace
        if ts + self.d < close_time:
            ctx.record_dropped(self, _EXPIRED)
            return
        if ts < self.d:
            self._process_early(key, value, ts, close_time)
        else:
            self._process_reverse(key, value, ts, close_time)
        if self.emit_on_close:
            self._maybe_emit_final(close_time)

    # -- window updates ---------------------------------------------------------------------
    def _update(self, key: Any, value: Any, start: int, stored: Any, ts: int,
                close_time: int) -> None:
        """Add the record to window ``[start, start + d]`` (``stored`` = its (agg, ts))."""
        end = start + self.d
        if end < close_time:
            self.ctx.record_dropped(self, _EXPIRED)
            return
        old_agg = None if stored is None else stored[0]
        new_agg = self.aggregator(key, value, old_agg)
        new_ts = ts if old_agg is None else max(ts, stored[1])
        self.store.put(key, (new_agg, new_ts), start)
        self._forward_update(key, start, old_agg, new_agg, new_ts)

    def _forward_update(self, key: Any, start: int, old_agg: Any, new_agg: Any,
                        new_ts: int) -> None:
        if self.emit_on_close:
            return
        self.forward_at(_time_windowed(key, start, start + self.d),
                        (new_agg, old_agg if self.send_old else None), new_ts)

    def _create_current_right(self, key: Any, ts: int, right_agg: Any) -> None:
        start = ts + 1
        self.store.put(key, right_agg, start)
        self._forward_update(key, start, None, right_agg[0], right_agg[1])

    def _create_previous_right(self, key: Any, value: Any, start: int, ts: int,
                               close_time: int) -> None:
        self._update(key, value, start, (self.initializer(), ts), ts, close_time)

    def _process_reverse(self, key: Any, value: Any, ts: int, close_time: int) -> None:
        d = self.d
        starts: set[int] = set()
        left_agg = right_agg = None
        left_created = right_created = False
        previous_ts = None
        for start, stored in self.store.backward_fetch(key, max(0, ts - 2 * d), ts + 1):
            starts.add(start)
            end = start + d
            max_ts = stored[1]
            if start == ts + 1:
                right_created = True
            elif end > ts:
                if right_agg is None:
                    right_agg = stored
                self._update(key, value, start, stored, ts, close_time)
            elif end == ts:
                left_created = True
                self._update(key, value, start, stored, ts, close_time)
                if max_ts < ts:
                    previous_ts = max_ts
                else:
                    return
            else:  # end < ts
                left_agg = stored
                previous_ts = max_ts
                break
        self._create_windows(key, value, ts, close_time, starts, right_agg, left_agg,
                             left_created, right_created, previous_ts)

    def _process_early(self, key: Any, value: Any, ts: int, close_time: int) -> None:
        """Records before ``d``: they share the clamped window ``[0, d]``."""
        combined = None
        right_agg = None
        right_created = False
        starts: set[int] = set()
        previous_ts = None
        for start, stored in self.store.fetch(key, 0, ts + 1):
            starts.add(start)
            if start == 0:
                combined = stored
                if stored[1] < ts:
                    previous_ts = stored[1]
            elif start <= ts:
                right_agg = stored
                self._update(key, value, start, stored, ts, close_time)
            elif start == ts + 1:
                right_created = True
        if right_agg is None and combined is not None and combined[1] > ts:
            right_agg = combined
        if not right_created and right_agg is not None and right_agg[1] > ts:
            self._create_current_right(key, ts, right_agg)
        if previous_ts is not None and (previous_ts + 1) not in starts:
            self._create_previous_right(key, value, previous_ts + 1, ts, close_time)
        if combined is None:
            self._update(key, value, 0, (self.initializer(), ts), ts, close_time)
        else:
            self._update(key, value, 0, combined, ts, close_time)

    def _create_windows(self, key: Any, value: Any, ts: int, close_time: int, starts: set[int],
                        right_agg: Any, left_agg: Any, left_created: bool, right_created: bool,
                        previous_ts: int | None) -> None:
        d = self.d
        if previous_ts is not None:
            prev_right = previous_ts + 1
            if prev_right not in starts and prev_right + d >= ts:
                self._create_previous_right(key, value, prev_right, ts, close_time)
        if not left_created:
            if previous_ts is not None and ts - d <= previous_ts:
                stored = (left_agg[0], ts)
            else:
                stored = (self.initializer(), ts)
            self._update(key, value, ts - d, stored, ts, close_time)
        if not right_created and right_agg is not None and right_agg[1] > ts:
            self._create_current_right(key, ts, right_agg)

    def _maybe_emit_final(self, close_time: int) -> None:
        if not self._should_emit_final(close_time):
            return
        d = self.d
        upper = close_time - d - 1
        if upper < 0:
            return
        last = self.last_emit_close_time
        lower = 0 if last == NO_TIME else max(0, last - d)
        rows = [(kv[0], kv[1][0], kv[1][1]) for kv in self.store.fetch_all(lower, upper)]
        self._emit(rows, self.ctx.headers)
        self._emitted(close_time)


class SessionWindowAggregateNode(_WindowedAggregateBase):
    """Session windows: a record joins (and merges) the key's sessions within ``gap``."""

    def __init__(self, store_name: str, info: Any, windows: Any, initializer: Fn,
                 aggregator: Fn, merger: Fn, emit_on_close: bool) -> None:
        super().__init__(store_name, info, emit_on_close)
        self.windows = windows
        self.gap = windows.gap_ms
        self.grace = windows.grace_ms
        self.initializer = initializer
        self.aggregator = aggregator
        self.merger = merger

    def process(self, key: Any, value: Any) -> None:
        ctx = self.ctx
        if key is None:
            ctx.record_dropped(self, "null key")
            return
        ts = ctx.timestamp
        if ts > self.observed_stream_time:
            self.observed_stream_time = ts
        close_time = self.observed_stream_time - self.grace - self.gap
        if self.emit_on_close:
            self._maybe_emit_final(close_time)  # before the put expires them (see time windows)
        store = self.store
        merged = []
        agg = self.initializer()
        start = end = ts
        merger = self.merger
        for windowed, session_agg in store.find_sessions(key, ts - self.gap, ts + self.gap):
            merged.append((windowed, session_agg))
            agg = merger(key, agg, session_agg)
            window = windowed.window
            if window.start < start:
                start = window.start
            if window.end > end:
                end = window.end
        if end < close_time:
            ctx.record_dropped(self, _EXPIRED)
        else:
            emit = not self.emit_on_close
            if start != ts or end != ts:
                for windowed, session_agg in merged:
                    store.remove(windowed)
                    if emit:
                        self.forward_at(windowed, (None, session_agg if self.send_old else None),
                                        windowed.window.end)
            agg = self.aggregator(key, value, agg)
            session_key = _session_windowed(key, start, end)
            store.put(session_key, agg)
            if emit:
                self.forward_at(session_key, (agg, None), end)

    def _maybe_emit_final(self, close_time: int) -> None:
        if not self._should_emit_final(close_time):
            return
        upper = close_time - 1
        if upper < 0:
            return
        lower = max(0, self.last_emit_close_time)
        if upper < lower:
            return
        rows = [(windowed, agg, windowed.window.end)
                for windowed, agg in self.store.find_sessions(lower, upper)]
        self._emit(rows, self.ctx.headers)
        self._emitted(close_time)


__all__ = ["SessionWindowAggregateNode", "SlidingWindowAggregateNode", "TimeWindowAggregateNode"]
