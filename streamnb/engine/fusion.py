"""Operator fusion: a chain of stateless operators compiled into one Python function.

Calling one function per operator per record is most of an interpreted engine's cost. At
task start, each fusable node (filter, map_values, select_key, flat_map_values, count, ...)
gets a ``process`` generated from its own code template and those of its fusable
descendants, down to the first node that is not fusable (a sink, a store-heavy processor,
a user processor), which is called. Semantics do not change: the generated code does what
the nodes' ``process`` methods do, in the same order.

Emitters are registered per node class by the layer that defines the class (the DSL), so
the engine stays unaware of DSL operators.

In a batch loop (``compile_batch``) the current record's timestamp, headers and offset are
local variables; the task context gets them only where something can read them: before a
call into a node that is not inlined, before an emitter that declared ``reads_ctx``, where an
emitter asks (``Codegen.sync_ctx``), and when the batch ends or an exception leaves it.
"""

from __future__ import annotations

import linecache
import re
from collections.abc import Callable
from typing import Any

from .node import Node, SinkNode

#: node class -> emitter(node, codegen, key_var, value_var, indent) -> source lines
Emitter = Callable[[Node, "Codegen", str, str, str], list[str]]
_EMITTERS: dict[type, Emitter] = {}
#: node classes whose emitted code reads the record context (timestamp, headers, offset)
#: from the TaskContext itself rather than through ``Codegen.timestamp``/``context_expr``.
_READS_CTX: set[type] = set()

#: Nodes inlined into one function at most (deeper chains call the next fused function).
MAX_INLINED = 16


def register_emitter(node_class: type, emitter: Emitter, reads_ctx: bool = True) -> None:
    """Declare how ``node_class`` is written inline into a fused function.

    ``reads_ctx=False`` promises that the emitted code reads the current record's timestamp,
    headers and offset only through ``Codegen.timestamp``/``context_expr``, and calls
    ``Codegen.sync_ctx`` before anything else that may read them from the TaskContext (a
    store's change logger, ``record_dropped``, a node's ``process``). With the default
    (True) the context is brought up to date before the emitted code runs.
    """
    _EMITTERS[node_class] = emitter
    if reads_ctx:
        _READS_CTX.add(node_class)
    else:
        _READS_CTX.discard(node_class)


def is_fusable(node: Node) -> bool:
    """Whether ``fuse(node)`` compiles the node (sinks are only inlined into parents)."""
    return type(node) in _EMITTERS and not isinstance(node, SinkNode)


class Codegen:
    """Builds the source of one fused function and the objects it refers to."""

    def __init__(self) -> None:
        self.env: dict[str, Any] = {}
        self._counter = 0
        self.inlined = 0
        # An expression for the current record's timestamp in inlined code: a local
        # variable in batch loops, else the context attribute.
        self.timestamp_expr: str | None = None
        # Batch loops: the context's global name and the record fields held in locals
        # (attribute -> local variable), written to the context by ``sync_ctx`` only.
        self.lazy_ctx: str | None = None
        self.local_fields: dict[str, str] = {}
        # Change tuples not built yet: variable -> (new, old) expressions.
        self._changes: dict[str, tuple[str, str]] = {}

    def timestamp(self, ctx: Any) -> str:
        """Code reading the current record's timestamp."""
        if self.timestamp_expr is not None:
            return self.timestamp_expr
        return f"{self.bind(ctx, 'ctx')}.timestamp"

    def context_expr(self, ctx: Any, field: str) -> str:
        """Code reading a field of the current record (timestamp, headers, offset, ...)."""
        if field == "timestamp":
            return self.timestamp(ctx)
        local = self.local_fields.get(field)
        return local if local is not None else f"{self.bind(ctx, 'ctx')}.{field}"

    def sync_ctx(self, indent: str) -> list[str]:
        """Code writing the record fields held in locals to the TaskContext, for code that
        reads them there (nothing outside batch loops, where the context is always set)."""
        ctx = self.lazy_ctx
        if ctx is None:
            return []
        lines = [f"{indent}{ctx}.timestamp = {self.timestamp_expr}"]
        lines.extend(f"{indent}{ctx}.{field} = {local}"
                     for field, local in self.local_fields.items())
        return lines

    def set_item(self, setter: Any, key: str, value: str, indent: str) -> str:
        """A statement calling ``setter(key, value)``; a dict's own ``__setitem__`` is written
        as a subscript assignment (a method-wrapper call costs several times more)."""
        owner = getattr(setter, "__self__", None)
        if type(owner) is dict and getattr(setter, "__name__", "") == "__setitem__":
            return f"{indent}{self.bind(owner, 'd')}[{key}] = {value}"
        return f"{indent}{self.bind(setter, 'set')}({key}, {value})"

    def change_children(self, node: Node, key: str, new: str, old: str, indent: str
                        ) -> list[str]:
        """Code forwarding the change ``(new, old)`` to the children of a table node; the
        tuple is built only if a child uses it whole (``to_stream`` reads ``new`` only)."""
        var = self.var("ch")
        self._changes[var] = (new, old)
        body = self.children(node, key, var, indent)
        if re.search(rf"\b{var}\b", "\n".join(body)):
            body.insert(0, f"{indent}{var} = ({new}, {old})")
        return body

    def change_parts(self, var: str) -> tuple[str, str] | None:
        """``(new, old)`` expressions of a change variable from ``change_children``."""
        return self._changes.get(var)

    def bind(self, obj: Any, hint: str = "o") -> str:
        """A global name in the generated function that refers to ``obj``."""
        name = f"_{hint}{self._counter}"
        self._counter += 1
        self.env[name] = obj
        return name

    def var(self, hint: str) -> str:
        """A fresh local variable name."""
        name = f"{hint}{self._counter}"
        self._counter += 1
        return name

    def node(self, node: Node, key: str, value: str, indent: str) -> list[str]:
        """Code that runs ``node`` on (key, value): inlined if fusable, else a call."""
        emitter = _EMITTERS.get(type(node))
        if emitter is None or self.inlined >= MAX_INLINED:
            return [*self.sync_ctx(indent),
                    f"{indent}{self.bind(node.process, 'call')}({key}, {value})"]
        self.inlined += 1
        lines = emitter(node, self, key, value, indent)
        if type(node) in _READS_CTX:
            lines[:0] = self.sync_ctx(indent)
        return lines

    def children(self, node: Node, key: str, value: str, indent: str) -> list[str]:
        """Code that forwards (key, value) to each child of ``node``, in order."""
        lines: list[str] = []
        for child in node.children:
            lines.extend(self.node(child, key, value, indent))
        if not lines:
            lines.append(f"{indent}pass")
        return lines


def _sink(node: SinkNode, g: Codegen, key: str, value: str, indent: str) -> list[str]:
    """A sink whose collector hands out an append target is written inline (no call)."""
    inline = node.inline_target
    if inline is None:
        return [*g.sync_ctx(indent), f"{indent}{g.bind(node.process, 'call')}({key}, {value})"]
    append, fields = inline
    parts = {"topic": g.bind(node.topic, "topic"), "key": key, "value": value,
             "timestamp": g.timestamp(node.ctx), "headers": g.context_expr(node.ctx, "headers")}
    return [f"{indent}{g.bind(append, 'append')}(({', '.join(parts[f] for f in fields)},))"]


register_emitter(SinkNode, _sink, reads_ctx=False)


def fuse(node: Node) -> Callable[[Any, Any], None] | None:
    """The fused ``process`` of ``node`` (None if the node is not fusable)."""
    if type(node) not in _EMITTERS or isinstance(node, SinkNode):
        return None  # a sink is only ever inlined into its parents
    gen = Codegen()
    body = gen.node(node, "key", "value", "    ")
    source = "def fused(key, value):\n" + "\n".join(body) + "\n"
    filename = f"<fused {node.name}>"
    # Tracebacks through generated code show its lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = dict(gen.env)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own templates
    fused = namespace["fused"]
    fused.__qualname__ = f"fused[{node.name}]"
    fused.source = source  # for debugging: print(node.process.source)
    return fused


_BATCH_FIELDS = ("key", "value", "timestamp", "headers", "offset")


def compile_batch(ctx: Any, topic: str, partition: int, children: list[Node],
                  fields: tuple[str, ...] = ("key", "value", "timestamp")
                  ) -> Callable[[Any], None]:
    """A function that runs a batch of records of one topic-partition through a task.

    Records are tuples of ``fields`` (a subset of key, value, timestamp, headers, offset,
    in that order). The loop advances stream time and runs the source's children inline,
    so a record costs no function call of its own. The record's timestamp, headers and
    offset stay in local variables and reach the context only where code may read them
    there (see the module docstring); a ``finally`` leaves the context on the last record
    run, also when an exception escapes. Callers punctuate and commit between batches, as
    Kafka's stream thread does.
    """
    unknown = set(fields) - set(_BATCH_FIELDS)
    if unknown or "key" not in fields or "value" not in fields or "timestamp" not in fields:
        raise ValueError(f"batch fields must include key, value, timestamp; got {fields}")
    gen = Codegen()
    gen.timestamp_expr = "timestamp"
    c = gen.bind(ctx, "ctx")
    gen.lazy_ctx = c
    gen.local_fields = {f: f for f in ("headers", "offset") if f in fields}
    body = []
    for child in children:
        body.extend(gen.node(child, "key", "value", "            "))
    if not body:
        body = ["            pass"]
    lazy = ["timestamp", *gen.local_fields]
    source = "\n".join([
        "def batch(records):",
        f"    {c}.topic = {gen.bind(topic, 'topic')}",
        f"    {c}.partition = {partition}",
        *([] if "headers" in fields else [f"    {c}.headers = None"]),
        *([] if "offset" in fields else [f"    {c}.offset = -1"]),
        # An empty batch leaves the context as it was.
        *(f"    {f} = {c}.{f}" for f in lazy),
        "    try:",
        f"        for {', '.join(fields)} in records:",
        f"            if timestamp > {c}.stream_time:",
        f"                {c}.stream_time = timestamp",
        *body,
        "    finally:",
        *(f"        {c}.{f} = {f}" for f in lazy),
    ]) + "\n"
    filename = f"<batch {topic}-{partition}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = dict(gen.env)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own templates
    batch = namespace["batch"]
    batch.source = source
    return batch
