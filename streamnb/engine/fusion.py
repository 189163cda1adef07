"""Operator fusion: a chain of stateless operators compiled into one Python function.

Calling one function per operator per record is most of an interpreted engine's cost. At
task start, each fusable node (filter, map_values, select_key, flat_map_values, count, ...)
gets a ``process`` generated from its own code template and those of its fusable
descendants, down to the first node that is not fusable (a sink, a store-heavy processor,
a user processor), which is called. Semantics do not change: the generated code does what
the nodes' ``process`` methods do, in the same order.

Emitters are registered per node class by the layer that defines the class (the DSL), so
the engine stays unaware of DSL operators.
"""

from __future__ import annotations

import linecache
from collections.abc import Callable
from typing import Any

from .node import Node, SinkNode

#: node class -> emitter(node, codegen, key_var, value_var, indent) -> source lines
Emitter = Callable[[Node, "Codegen", str, str, str], list[str]]
_EMITTERS: dict[type, Emitter] = {}

#: Nodes inlined into one function at most (deeper chains call the next fused function).
MAX_INLINED = 16


def register_emitter(node_class: type, emitter: Emitter) -> None:
    """Declare how ``node_class`` is written inline into a fused function."""
    _EMITTERS[node_class] = emitter


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

    def timestamp(self, ctx: Any) -> str:
        """Code reading the current record's timestamp."""
        if self.timestamp_expr is not None:
            return self.timestamp_expr
        return f"{self.bind(ctx, 'ctx')}.timestamp"

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
            return [f"{indent}{self.bind(node.process, 'call')}({key}, {value})"]
        self.inlined += 1
        return emitter(node, self, key, value, indent)

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
        return [f"{indent}{g.bind(node.process, 'call')}({key}, {value})"]
    append, fields = inline
    ctx = g.bind(node.ctx, "ctx")
    parts = {"topic": g.bind(node.topic, "topic"), "key": key, "value": value,
             "timestamp": g.timestamp(node.ctx), "headers": f"{ctx}.headers"}
    return [f"{indent}{g.bind(append, 'append')}(({', '.join(parts[f] for f in fields)},))"]


register_emitter(SinkNode, _sink)


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
    in that order). The loop sets the record context and runs the source's children inline,
    so a record costs no function call of its own. Callers punctuate and commit between
    batches, as Kafka's stream thread does.
    """
    unknown = set(fields) - set(_BATCH_FIELDS)
    if unknown or "key" not in fields or "value" not in fields or "timestamp" not in fields:
        raise ValueError(f"batch fields must include key, value, timestamp; got {fields}")
    gen = Codegen()
    gen.timestamp_expr = "timestamp"
    c = gen.bind(ctx, "ctx")
    body = []
    for child in children:
        body.extend(gen.node(child, "key", "value", "        "))
    if not body:
        body = ["        pass"]
    sets = [f"        {c}.timestamp = timestamp"]
    if "headers" in fields:
        sets.append(f"        {c}.headers = headers")
    if "offset" in fields:
        sets.append(f"        {c}.offset = offset")
    source = "\n".join([
        "def batch(records):",
        f"    {c}.topic = {gen.bind(topic, 'topic')}",
        f"    {c}.partition = {partition}",
        *([] if "headers" in fields else [f"    {c}.headers = None"]),
        *([] if "offset" in fields else [f"    {c}.offset = -1"]),
        f"    for {', '.join(fields)} in records:",
        *sets,
        f"        if timestamp > {c}.stream_time:",
        f"            {c}.stream_time = timestamp",
        *body,
    ]) + "\n"
    filename = f"<batch {topic}-{partition}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = dict(gen.env)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own templates
    batch = namespace["batch"]
    batch.source = source
    return batch
