"""How each stateless DSL operator (and count) is written inline by operator fusion.

Each emitter mirrors its node's ``process`` method (see _stateless.py / _stateful.py); the
fusion tests run every operator fused and unfused and compare outputs.
"""

from __future__ import annotations

from typing import Any

from ..engine.fusion import Codegen, register_emitter, returned_argument
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
        # A list (what split() returns) skips the isinstance call (~850 instructions a line).
        f"{ind}if type({r}) is not list and ({r} is None or isinstance({r}, (str, bytes))):",
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
    same = returned_argument(node.selector, 2)  # group_by(lambda _key, word: word): no call
    if same is not None:
        return g.children(node, (k, v)[same], v, ind)
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
    parts = g.change_parts(v)
    if parts is not None:  # the change tuple of an inlined aggregate: take its new value
        return g.children(node, k, parts[0], ind)
    nv = g.var("v")
    return [f"{ind}{nv} = {v}[0]", *g.children(node, k, nv, ind)]


def _count(node: StreamCountNode, g: Codegen, k: str, v: str, ind: str) -> list[str]:
    inner = ind + "    "
    store = node.store
    raw_ops = getattr(store, "raw_ops", None)
    old, ts, c0, nts, c1, stored = (g.var(x) for x in ("old", "ts", "c", "nts", "c", "st"))
    if raw_ops is not None:  # in-memory store: dict operations, no Python frame
        get, put, log = raw_ops()
        writes = [g.set_item(put, k, stored, inner)]
        if log is not None:
            line = g.set_item(log, k, stored, inner)
            if not line.endswith(f"] = {stored}"):  # a logger function may read the context
                writes.extend(g.sync_ctx(inner))
            writes.append(line)
    else:
        get = store.get
        writes = [*g.sync_ctx(inner), g.set_item(store.put, k, stored, inner)]
    get_ = g.bind(get, "get")
    ctx, me = g.bind(node.ctx, "ctx"), g.bind(node, "node")
    old_out = c0 if node.send_old else "None"
    lazy = g.lazy_ctx is not None
    # In batch loops the record's timestamp is already a local variable.
    ts = g.timestamp(node.ctx) if lazy else ts
    null = f"{k} is None" if k == v else f"{k} is None or {v} is None"  # group_by(word)
    lines = [
        f"{ind}if {null}:",
        *g.sync_ctx(inner),
        f"{inner}{ctx}.record_dropped({me}, 'null key or value')",
        f"{ind}else:",
        f"{inner}{old} = {get_}({k})",
        *([] if lazy else [f"{inner}{ts} = {g.timestamp(node.ctx)}"]),
        f"{inner}if {old} is None:",
        *([f"{inner}    {c0} = 0"] if node.send_old else []),
        f"{inner}    {c1} = 1",
        f"{inner}    {nts} = {ts}",
        f"{inner}else:",
        f"{inner}    {c0}, {nts} = {old}",
        f"{inner}    {c1} = {c0} + 1",
        f"{inner}    if {ts} > {nts}:",
        f"{inner}        {nts} = {ts}",
        f"{inner}{stored} = ({c1}, {nts})",
        *writes,
    ]
    if lazy:  # children run at the max timestamp (equal to the record's in order)
        return [*lines, *_at_timestamp(node, g, k, (c1, old_out), nts, ts, inner)]
    return [
        *lines,
        f"{inner}if {nts} == {ts}:",
        *g.change_children(node, k, c1, old_out, inner + "    "),
        f"{inner}else:",
        *_at_timestamp(node, g, k, (c1, old_out), nts, ts, inner + "    "),
    ]


def _at_timestamp(node: Any, g: Codegen, k: str, v: str | tuple[str, str], new_ts: str,
                  ts: str, ind: str) -> list[str]:
    """Children inlined under another record timestamp (an aggregate's max timestamp),
    restoring the current one afterwards - ``forward_at`` without the call. ``v`` is a
    value expression, or the ``(new, old)`` expressions of a change."""
    saved = g.timestamp_expr
    g.timestamp_expr = new_ts
    try:
        if isinstance(v, tuple):
            body = g.change_children(node, k, v[0], v[1], ind if g.lazy_ctx else ind + "    ")
        else:
            body = g.children(node, k, v, ind if g.lazy_ctx else ind + "    ")
    finally:
        g.timestamp_expr = saved
    if g.lazy_ctx is not None:  # the context is written only where read (sync_ctx)
        return body
    ctx = g.bind(node.ctx, "ctx")
    return [f"{ind}{ctx}.timestamp = {new_ts}", f"{ind}try:", *body, f"{ind}finally:",
            f"{ind}    {ctx}.timestamp = {ts}"]


register_emitter(FilterNode, _filter, reads_ctx=False)
register_emitter(MapValuesNode, _map_values, reads_ctx=False)
register_emitter(MapNode, _map, reads_ctx=False)
register_emitter(FlatMapValuesNode, _flat_map_values, reads_ctx=False)
register_emitter(FlatMapNode, _flat_map, reads_ctx=False)
register_emitter(SelectKeyNode, _select_key, reads_ctx=False)
register_emitter(PeekNode, _peek, reads_ctx=False)
register_emitter(PassThroughNode, _pass_through, reads_ctx=False)
register_emitter(TableToStreamNode, _to_stream, reads_ctx=False)
register_emitter(StreamCountNode, _count, reads_ctx=False)
