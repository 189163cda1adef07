"""How each stateless DSL operator (and count) is written inline by operator fusion.

Each emitter mirrors its node's ``process`` method (see _stateless.py / _stateful.py); the
fusion tests run every operator fused and unfused and compare outputs.
"""

from __future__ import annotations

from typing import Any

from ..engine.fusion import Codegen, register_emitter
from ._stateful import StreamCountNode, TableToStreamNode
from ._stateless import (
    FilterNode,
    FlatMapNode,
    FlatMapValuesNode,
    MapNode,
    MapValuesNode,
    PassThroughNode,
    PeekNode,
    SelectKeyNode,
)


def _pair(node: Any, result: Any, what: str) -> tuple[Any, Any]:
    try:
        new_key, new_value = result
    except (TypeError, ValueError):
        if result is None and what == "map":  # Kafka's KStreamMap message
            raise TypeError(
                "The provided KeyValueMapper returned null which is not allowed. "
                f"(map function of {node.name}: return a (key, value) pair)"
            ) from None
        raise TypeError(
            f"{what} function of {node.name} must return a (key, value) pair, got {result!r}"
        ) from None
    return new_key, new_value


def _filter(node: FilterNode, g: Codegen, k: str, v: str, ind: str) -> list[str]:
    pred = g.bind(node.predicate, "pred")
    test = f"not {pred}({k}, {v})" if node.negate else f"{pred}({k}, {v})"
    return [f"{ind}if {test}:", *g.children(node, k, v, ind + "    ")]


def _map_values(node: MapValuesNode, g: Codegen, k: str, v: str, ind: str) -> list[str]:
    fn, out = g.bind(node.mapper, "mapv"), g.var("v")
    call = f"{fn}({k}, {v})" if node.with_key else f"{fn}({v})"
    return [f"{ind}{out} = {call}", *g.children(node, k, out, ind)]


def _map(node: MapNode, g: Codegen, k: str, v: str, ind: str) -> list[str]:
    fn, pair, nk, nv = g.bind(node.mapper, "map"), g.bind(_pair, "pair"), g.var("k"), g.var("v")
    me, r = g.bind(node, "node"), g.var("r")
    return [
        f"{ind}{r} = {fn}({k}, {v})",
        f"{ind}{nk}, {nv} = {pair}({me}, {r}, 'map')",
        *g.children(node, nk, nv, ind),
    ]


def _flat_map_values(node: FlatMapValuesNode, g: Codegen, k: str, v: str, ind: str
                     ) -> list[str]:
    fn, check = g.bind(node.mapper, "fmv"), g.bind(node._check, "check")
    r, item = g.var("r"), g.var("v")
    call = f"{fn}({k}, {v})" if node.with_key else f"{fn}({v})"
    return [
        f"{ind}{r} = {call}",
        f"{ind}if {r} is None or isinstance({r}, (str, bytes)):",
        f"{ind}    {check}({r})",
        f"{ind}for {item} in {r}:",
        *g.children(node, k, item, ind + "    "),
    ]


def _flat_map(node: FlatMapNode, g: Codegen, k: str, v: str, ind: str) -> list[str]:
    fn, pair, me = g.bind(node.mapper, "fm"), g.bind(_pair, "pair"), g.bind(node, "node")
    r, item, nk, nv = g.var("r"), g.var("p"), g.var("k"), g.var("v")
    return [
        f"{ind}{r} = {fn}({k}, {v})",
        f"{ind}if {r} is None:",
        f"{ind}    raise TypeError('flat_map function of ' + {me}.name + ' returned None; "
        "return an iterable of (key, value) pairs (an empty list to drop the record)')",
        f"{ind}for {item} in {r}:",
        f"{ind}    {nk}, {nv} = {pair}({me}, {item}, 'flat_map')",
        *g.children(node, nk, nv, ind + "    "),
    ]


def _select_key(node: SelectKeyNode, g: Codegen, k: str, v: str, ind: str) -> list[str]:
    fn, nk = g.bind(node.selector, "sel"), g.var("k")
    return [f"{ind}{nk} = {fn}({k}, {v})", *g.children(node, nk, v, ind)]


def _peek(node: PeekNode, g: Codegen, k: str, v: str, ind: str) -> list[str]:
    fn = g.bind(node.action, "peek")
    lines = [f"{ind}{fn}({k}, {v})"]
    if node.children:
        lines.extend(g.children(node, k, v, ind))
    return lines


def _pass_through(node: PassThroughNode, g: Codegen, k: str, v: str, ind: str) -> list[str]:
    return g.children(node, k, v, ind)


def _to_stream(node: TableToStreamNode, g: Codegen, k: str, v: str, ind: str) -> list[str]:
    nv = g.var("v")
    return [f"{ind}{nv} = {v}[0]", *g.children(node, k, nv, ind)]


def _count(node: StreamCountNode, g: Codegen, k: str, v: str, ind: str) -> list[str]:
    store = node.store
    raw_ops = getattr(store, "raw_ops", None)
    if raw_ops is not None:  # in-memory store: dict operations, no Python frame
        get, put, log = raw_ops()
    else:
        get, put, log = store.get, store.put, None
    get_, put_ = g.bind(get, "get"), g.bind(put, "put")
    log_ = g.bind(log, "log") if log is not None else None
    ctx, me = g.bind(node.ctx, "ctx"), g.bind(node, "node")
    old, ts, c0, nts, c1, ch = (g.var(x) for x in ("old", "ts", "c", "nts", "c", "ch"))
    old_out = c0 if node.send_old else "None"
    inner = ind + "    "
    return [
        f"{ind}if {k} is None or {v} is None:",
        f"{inner}{ctx}.record_dropped({me}, 'null key or value')",
        f"{ind}else:",
        f"{inner}{old} = {get_}({k})",
        f"{inner}{ts} = {g.timestamp(node.ctx)}",
        f"{inner}if {old} is None:",
        f"{inner}    {c0} = 0",
        f"{inner}    {nts} = {ts}",
        f"{inner}else:",
        f"{inner}    {c0}, {nts} = {old}",
        f"{inner}    if {ts} > {nts}:",
        f"{inner}        {nts} = {ts}",
        f"{inner}{c1} = {c0} + 1",
        f"{inner}{ch} = ({c1}, {nts})",
        f"{inner}{put_}({k}, {ch})",
        *([f"{inner}{log_}({k}, {ch})"] if log_ else []),
        f"{inner}{ch} = ({c1}, {old_out})",
        f"{inner}if {nts} == {ts}:",
        *g.children(node, k, ch, inner + "    "),
        f"{inner}else:",
        *_at_timestamp(node, g, k, ch, nts, ts, inner + "    "),
    ]


def _at_timestamp(node: Any, g: Codegen, k: str, v: str, new_ts: str, ts: str, ind: str
                  ) -> list[str]:
    """Children inlined under another record timestamp (an aggregate's max timestamp),
    restoring the current one afterwards - ``forward_at`` without the call."""
    ctx = g.bind(node.ctx, "ctx")
    saved = g.timestamp_expr
    g.timestamp_expr = new_ts
    try:
        body = g.children(node, k, v, ind + "    ")
    finally:
        g.timestamp_expr = saved
    return [f"{ind}{ctx}.timestamp = {new_ts}", f"{ind}try:", *body, f"{ind}finally:",
            f"{ind}    {ctx}.timestamp = {ts}"]


register_emitter(FilterNode, _filter)
register_emitter(MapValuesNode, _map_values)
register_emitter(MapNode, _map)
register_emitter(FlatMapValuesNode, _flat_map_values)
register_emitter(FlatMapNode, _flat_map)
register_emitter(SelectKeyNode, _select_key)
register_emitter(PeekNode, _peek)
register_emitter(PassThroughNode, _pass_through)
register_emitter(TableToStreamNode, _to_stream)
register_emitter(StreamCountNode, _count)
