"""How a time-windowed aggregation (``TimeWindows`` count/reduce/aggregate) is written inline
by operator fusion.

The generated code does what ``TimeWindowAggregateNode``'s closures do (see
_windowed_nodes.py), record by record, in the same order: null keys are dropped, the node's
observed stream time moves on, windows that closed (``end + grace <= stream time``) are
dropped and counted, the aggregate keeps the max record timestamp and every update is
forwarded with it (or nothing is forwarded under ``EmitStrategy.on_window_close``, whose
final results the node still emits itself). Tumbling windows over the in-memory store read
and write the store's segment dicts directly; everything else goes through ``fetch``/``put``.
The window tests run these topologies fused and unfused and compare the outputs.
"""

from __future__ import annotations

from typing import Any

from ..engine.fusion import Codegen, register_emitter
from ._fusion_rules import _at_timestamp
from ._windowed_nodes import _EXPIRED, TimeWindowAggregateNode
from .windows import TimeWindow, Windowed, _windowed

#: window starts whose windowed keys fused code keeps (the open windows of a stream in time
#: order are one or two; more only under large grace periods - older ones are rebuilt)
_KEY_CACHE_STARTS = 4


class _TumblingCache:
    """State fused tumbling-window code keeps between records (and batches): the window start
    of the last record, its store segment, and the ``Windowed`` keys already made for that
    window (one per key, reused by later updates of the same window).

    ``cell`` is ``[start, segment or None, {key: Windowed}, TimeWindow]``; ``refresh(start,
    observed)`` loads it for another start. Keeping the segment is safe because the node
    drops records of closed windows before it reads the cell, and the store (retention >=
    size + grace) never expires a window that is still open: a live start's segment stays
    the store's own dict. A ``None`` segment (start not stored yet) is re-read after the
    ``put`` that creates it. Key caches of closed windows are dropped.
    """

    __slots__ = ("cell", "refresh")

    def __init__(self, segments: dict[int, dict[Any, Any]], size: int, grace: int) -> None:
        keys: dict[int, tuple[dict[Any, Windowed], TimeWindow]] = {}
        cell: list[Any] = [None, None, None, None]
        get_segment = segments.get
        new = object.__new__

        def refresh(start: int, observed: int) -> None:
            cached = keys.get(start)
            if cached is None:
                for old in [s for s in keys if s + size + grace <= observed]:
                    del keys[old]  # closed: no record can update these windows again
                while len(keys) >= _KEY_CACHE_STARTS:
                    del keys[min(keys)]
                window = new(TimeWindow)
                window.start = start
                window.end = start + size
                cached = keys[start] = ({}, window)
            cell[0] = start
            cell[1] = get_segment(start)
            cell[2], cell[3] = cached

        self.cell = cell
        self.refresh = refresh


def _time_windowed(node: TimeWindowAggregateNode, g: Codegen, k: str, v: str, ind: str
                   ) -> list[str]:
    windows = node.windows
    size, advance, grace = windows.size_ms, windows.advance_ms, windows.grace_ms
    fast_ops = getattr(node.store, "fast_ops", None)
    ops = fast_ops() if fast_ops is not None else None
    me, ctx = g.bind(node, "node"), g.bind(node.ctx, "ctx")
    # Batch loops keep the observed stream time in a local for the whole batch.
    kept = g.time_local(node, "observed_stream_time", "obs")
    obs = kept or g.var("obs")
    lazy = g.lazy_ctx is not None  # batch loop: the timestamp is a local variable already
    ts = g.timestamp(node.ctx) if lazy else g.var("ts")
    inner = ind + "    "
    lines = [
        f"{ind}if {k} is None:",
        *g.sync_ctx(inner),
        f"{inner}{ctx}.record_dropped({me}, 'null key')",
        f"{ind}else:",
        *([] if lazy else [f"{inner}{ts} = {g.timestamp(node.ctx)}"]),
    ]
    if kept is not None:
        lines += [f"{inner}if {ts} > {obs}:", f"{inner}    {obs} = {ts}"]
    else:
        lines += [
            f"{inner}{obs} = {me}.observed_stream_time",
            f"{inner}if {ts} > {obs}:",
            f"{inner}    {me}.observed_stream_time = {obs} = {ts}",
        ]
    if node.emit_on_close:
        # Before the puts: a put that moves the store's time on expires exactly the windows
        # that just closed (see the node), so they are emitted first. Emitting runs the
        # children, which may move times held in locals.
        lines += [*g.sync_ctx(inner), f"{inner}{me}._maybe_emit_final({obs} - {grace})",
                  *g.reload_times(inner)]
    if ops is not None and advance == size:
        lines.extend(_tumbling_in_memory(node, g, k, v, inner, ops, ts, obs))
    else:
        lines.extend(_generic(node, g, k, v, inner, ts, obs))
    return lines


def _aggregate(node: TimeWindowAggregateNode, g: Codegen, k: str, v: str, ind: str,
               old: str, ts: str, agg0: str, agg1: str, nts: str) -> list[str]:
    """From the stored ``old`` (None or (aggregate, timestamp)) to the new aggregate ``agg1``
    and its timestamp ``nts`` (the max record timestamp in the window)."""
    if node.counting:
        init, step = "0", f"{agg0} + 1"
    else:
        init = f"{g.bind(node.initializer, 'init')}()"
        step = f"{g.bind(node.aggregator, 'agg')}({k}, {v}, {agg0})"
    return [
        f"{ind}if {old} is None:",
        f"{ind}    {agg0} = {init}",
        f"{ind}    {nts} = {ts}",
        f"{ind}else:",
        f"{ind}    {agg0}, {nts} = {old}",
        f"{ind}    if {ts} > {nts}:",
        f"{ind}        {nts} = {ts}",
        f"{ind}{agg1} = {step}",
    ]


def _forward(node: TimeWindowAggregateNode, g: Codegen, windowed: str, agg0: str, agg1: str,
             ts: str, nts: str, ind: str) -> list[str]:
    """Forward ``windowed -> (new, old)`` at the aggregate's timestamp (the change tuple is
    built only if a child reads it whole)."""
    change = (agg1, agg0 if node.send_old else "None")
    if g.lazy_ctx is not None:  # batch loop: children read the timestamp from a local
        return _at_timestamp(node, g, windowed, change, nts, ts, ind)
    return [
        f"{ind}if {nts} == {ts}:",
        *g.change_children(node, windowed, change[0], change[1], ind + "    "),
        f"{ind}else:",
        *_at_timestamp(node, g, windowed, change, nts, ts, ind + "    "),
    ]


def _tumbling_in_memory(node: TimeWindowAggregateNode, g: Codegen, k: str, v: str, ind: str,
                        ops: tuple[Any, Any], ts: str, obs: str) -> list[str]:
    """One window per record; the store's ``{start: {key: (agg, ts)}}`` written directly
    where the window's segment exists (else ``put``: a new start may expire old ones). The
    segment and the window's ``Windowed`` keys are kept per start (``_TumblingCache``), so a
    record of the same window as the last one looks nothing up by start, and a key updated
    again in its window reuses its ``Windowed`` key. In a batch loop the cache's cell is
    unpacked into locals once per batch and again when the start changes (only this code
    writes the cell, and it writes it through)."""
    segments, put = ops
    size, grace = node.windows.size_ms, node.windows.grace_ms
    me, ctx = g.bind(node, "node"), g.bind(node.ctx, "ctx")
    put_ = g.bind(put, "wput")
    logger = node.store._change_logger
    start, seg, old, agg0, agg1, nts, stored = (
        g.var(x) for x in ("start", "seg", "old", "a", "a", "nts", "st"))
    inner = ind + "    "
    # The kept segment is the store's own only while the store retains every open window.
    keep = getattr(node.store, "retention_ms", -1) >= size + grace
    cache = _TumblingCache(segments, size, grace)
    cell = g.bind(cache.cell, "cell")
    refresh = f"{g.bind(cache.refresh, 'refresh')}({start}, {obs})"
    lines = [
        f"{ind}{start} = {ts} - {ts} % {size}",
        f"{ind}if {start} + {size + grace} <= {obs}:",
        *g.sync_ctx(inner),
        f"{inner}{ctx}.record_dropped({me}, {_EXPIRED!r})",
        f"{ind}else:",
    ]
    keys = g.var("keys")
    if g.setup is not None:  # a batch loop: the cell's items in locals (see above)
        cur, window = g.var("cur"), g.var("win")
        unpack = f"{cur}, {seg if keep else '_'}, {keys}, {window} = {cell}"
        g.setup.append(f"    {unpack}")
        lines += [f"{inner}if {start} != {cur}:", f"{inner}    {refresh}",
                  f"{inner}    {unpack}"]
    else:
        window = f"{cell}[3]"
        lines += [f"{inner}if {start} != {cell}[0]:", f"{inner}    {refresh}"]
        if not node.emit_on_close:
            lines.append(f"{inner}{keys} = {cell}[2]")
        if keep:
            lines.append(f"{inner}{seg} = {cell}[1]")
    if not keep:
        lines.append(f"{inner}{seg} = {g.bind(segments.get, 'segget')}({start})")
    lines += [
        f"{inner}{old} = None if {seg} is None else {seg}.get({k})",
        *_aggregate(node, g, k, v, inner, old, ts, agg0, agg1, nts),
        f"{inner}{stored} = ({agg1}, {nts})",
        f"{inner}if {seg} is None:",
        *g.sync_ctx(inner + "    ", times=False),
        f"{inner}    {put_}({k}, {stored}, {start})",
        *([f"{inner}    {cell}[1] = {seg} = {g.bind(segments.get, 'segget')}({start})"]
          if keep else []),
        f"{inner}else:",
        f"{inner}    {seg}[{k}] = {stored}",
    ]
    if logger is not None:
        line = g.set_item(logger, f"({k}, {start})", stored, inner + "    ")
        if not line.endswith(f"] = {stored}"):  # a logger function may read the context
            lines.extend(g.sync_ctx(inner + "    ", times=False))
        lines.append(line)
    if node.emit_on_close:
        return lines
    windowed = g.var("wk")
    new, cls = g.bind(object.__new__, "new"), g.bind(Windowed, "Windowed")
    make = [
        f"{inner}    {windowed} = {new}({cls})",
        f"{inner}    {windowed}.key = {k}",
        f"{inner}    {windowed}.window = {window}",
        f"{inner}    {keys}[{k}] = {windowed}",
    ]
    # A key new to the window (nothing stored) gets its Windowed key made without a lookup;
    # a key seen before finds it (a restored store's keys are made on first update).
    lines += [
        f"{inner}if {old} is None:",
        *make,
        f"{inner}else:",
        f"{inner}    try:",
        f"{inner}        {windowed} = {keys}[{k}]",
        f"{inner}    except KeyError:",
        *(("    " + line) for line in make),
        *_forward(node, g, windowed, agg0, agg1, ts, nts, inner),
    ]
    return lines


def _generic(node: TimeWindowAggregateNode, g: Codegen, k: str, v: str, ind: str,
             ts: str, obs: str) -> list[str]:
    """Every window the record falls in (hopping windows), through the store's methods."""
    windows = node.windows
    size, advance, grace = windows.size_ms, windows.advance_ms, windows.grace_ms
    store = node.store
    me, ctx = g.bind(node, "node"), g.bind(node.ctx, "ctx")
    fetch, put = g.bind(store.fetch, "wfetch"), g.bind(store.put, "wput")
    start, end, old, agg0, agg1, nts = (g.var(x) for x in ("start", "end", "old", "a", "a", "nts"))
    inner, body = ind + "    ", ind + "        "
    lines = [
        f"{ind}{start} = {ts} - {size - advance}",
        f"{ind}{start} = 0 if {start} < 0 else ({start} // {advance}) * {advance}",
        f"{ind}while {start} <= {ts}:",
        f"{inner}{end} = {start} + {size}",
        f"{inner}if {end} > {obs} - {grace}:",
        *g.sync_ctx(body, times=False),
        f"{body}{old} = {fetch}({k}, {start})",
        *_aggregate(node, g, k, v, body, old, ts, agg0, agg1, nts),
        f"{body}{put}({k}, ({agg1}, {nts}), {start})",
    ]
    if not node.emit_on_close:
        windowed = g.var("wk")
        lines += [
            f"{body}{windowed} = {g.bind(_windowed, 'wkey')}({k}, {start}, {end})",
            *_forward(node, g, windowed, agg0, agg1, ts, nts, body),
        ]
    lines += [
        f"{inner}else:",
        *g.sync_ctx(body),
        f"{body}{ctx}.record_dropped({me}, {_EXPIRED!r})",
        f"{inner}{start} += {advance}",
    ]
    return lines


register_emitter(TimeWindowAggregateNode, _time_windowed, reads_ctx=False)
