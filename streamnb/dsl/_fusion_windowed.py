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

from collections.abc import Callable
from typing import Any

from ..engine.fusion import Codegen, register_emitter
from ._fusion_rules import _at_timestamp
from ._windowed_nodes import _EXPIRED, TimeWindowAggregateNode
from .windows import TimeWindow, Windowed, _windowed

#: window objects kept per node for reuse by the windowed keys of one window start
_WINDOW_CACHE = 64


def _window_maker(size: int) -> tuple[dict[int, TimeWindow], Callable[[int], TimeWindow]]:
    """A cache ``{start: TimeWindow}`` that fused code reads, and its miss handler: windowed
    keys of one window share one (immutable) window object."""
    cache: dict[int, TimeWindow] = {}
    new = object.__new__

    def make(start: int) -> TimeWindow:
        if len(cache) >= _WINDOW_CACHE:
            cache.clear()
        window = cache[start] = new(TimeWindow)
        window.start = start
        window.end = start + size
        return window

    return cache, make


def _time_windowed(node: TimeWindowAggregateNode, g: Codegen, k: str, v: str, ind: str
                   ) -> list[str]:
    windows = node.windows
    size, advance, grace = windows.size_ms, windows.advance_ms, windows.grace_ms
    fast_ops = getattr(node.store, "fast_ops", None)
    ops = fast_ops() if fast_ops is not None else None
    me, ctx = g.bind(node, "node"), g.bind(node.ctx, "ctx")
    obs = g.var("obs")
    lazy = g.lazy_ctx is not None  # batch loop: the timestamp is a local variable already
    ts = g.timestamp(node.ctx) if lazy else g.var("ts")
    inner = ind + "    "
    lines = [
        f"{ind}if {k} is None:",
        *g.sync_ctx(inner),
        f"{inner}{ctx}.record_dropped({me}, 'null key')",
        f"{ind}else:",
        *([] if lazy else [f"{inner}{ts} = {g.timestamp(node.ctx)}"]),
        f"{inner}{obs} = {me}.observed_stream_time",
        f"{inner}if {ts} > {obs}:",
        f"{inner}    {me}.observed_stream_time = {obs} = {ts}",
    ]
    if node.emit_on_close:
        # Before the puts: a put that moves the store's time on expires exactly the windows
        # that just closed (see the node), so they are emitted first.
        lines += [*g.sync_ctx(inner), f"{inner}{me}._maybe_emit_final({obs} - {grace})"]
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
    where the window's segment exists (else ``put``: a new start may expire old ones)."""
    segments, put = ops
    size, grace = node.windows.size_ms, node.windows.grace_ms
    me, ctx = g.bind(node, "node"), g.bind(node.ctx, "ctx")
    segs_get, put_ = g.bind(segments.get, "segget"), g.bind(put, "wput")
    logger = node.store._change_logger
    start, seg, old, agg0, agg1, nts, stored = (
        g.var(x) for x in ("start", "seg", "old", "a", "a", "nts", "st"))
    inner = ind + "    "
    lines = [
        f"{ind}{start} = {ts} - {ts} % {size}",
        f"{ind}if {start} + {size + grace} <= {obs}:",
        *g.sync_ctx(inner),
        f"{inner}{ctx}.record_dropped({me}, {_EXPIRED!r})",
        f"{ind}else:",
        f"{inner}{seg} = {segs_get}({start})",
        f"{inner}{old} = None if {seg} is None else {seg}.get({k})",
        *_aggregate(node, g, k, v, inner, old, ts, agg0, agg1, nts),
        f"{inner}{stored} = ({agg1}, {nts})",
        f"{inner}if {seg} is None:",
        *g.sync_ctx(inner + "    "),
        f"{inner}    {put_}({k}, {stored}, {start})",
        f"{inner}else:",
        f"{inner}    {seg}[{k}] = {stored}",
    ]
    if logger is not None:
        line = g.set_item(logger, f"({k}, {start})", stored, inner + "    ")
        if not line.endswith(f"] = {stored}"):  # a logger function may read the context
            lines.extend(g.sync_ctx(inner + "    "))
        lines.append(line)
    if node.emit_on_close:
        return lines
    cache, make = _window_maker(size)
    window, windowed = g.var("win"), g.var("wk")
    new, cls = g.bind(object.__new__, "new"), g.bind(Windowed, "Windowed")
    lines += [
        f"{inner}{window} = {g.bind(cache.get, 'winget')}({start})",
        f"{inner}if {window} is None:",
        f"{inner}    {window} = {g.bind(make, 'winmake')}({start})",
        f"{inner}{windowed} = {new}({cls})",
        f"{inner}{windowed}.key = {k}",
        f"{inner}{windowed}.window = {window}",
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
        *g.sync_ctx(body),
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
