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
Times that only move forward - the task's stream time, a node's observed stream time
(``Codegen.time_local``) - are locals for the whole batch too: written back at the same
places, read again after a call that may run nodes (which may move them), and kept at the
later of the two when the batch ends. Objects the generated code refers to are bound as
keyword-only defaults of the batch function: locals, not globals looked up per use.

Given a ``NodeCounts``, generated code also counts the records each node processes (see
node_counts.py): a counter per block whose record count differs from its parent block's
(detected as children written at a deeper indent than their node: a filter's ``if``, a
flat_map's ``for``, an aggregate's non-null branch), attributed to every node in the block.
Batch loops keep counters in locals, added to the task's slots when the batch ends; over a
list of records the loop's own count is the list's length, so a plain chain counts nothing
per record.
"""

from __future__ import annotations

import linecache
import re
from collections.abc import Callable
from types import FunctionType
from typing import Any

from .node import Node, SinkNode
from .node_counts import NodeCounts, counts_itself

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


# Code flags under which a function is not a plain "return an argument" (varargs, generators).
_ODD_FLAGS = 0x04 | 0x08 | 0x20 | 0x80 | 0x100 | 0x200
# Reference functions compiled by this interpreter: (argument count, index) -> code.
_RETURNS_ARG = {(n, i): _code for n, i, _code in (
    (1, 0, (lambda a: a).__code__),
    (2, 0, (lambda a, b: a).__code__),
    (2, 1, (lambda a, b: b).__code__),
)}


def returned_argument(fn: Any, argcount: int) -> int | None:
    """The index of the argument ``fn`` returns unchanged (``lambda _key, word: word`` ->
    1), or None; generated code then uses that argument instead of calling ``fn``.

    Only a plain function with no closure, no defaults and the very bytecode of a reference
    ``lambda`` compiled by this interpreter qualifies, so anything else is still called."""
    code = getattr(fn, "__code__", None)
    if (type(fn) is not FunctionType or code is None or fn.__closure__ is not None
            or fn.__defaults__ is not None or fn.__kwdefaults__ is not None
            or code.co_argcount != argcount or code.co_kwonlyargcount
            or code.co_flags & _ODD_FLAGS):
        return None
    for index in range(argcount):
        ref = _RETURNS_ARG.get((argcount, index))
        if (ref is not None and code.co_code == ref.co_code
                and code.co_consts == ref.co_consts and code.co_names == ref.co_names
                and code.co_nlocals == ref.co_nlocals):
            return index
    return None


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
        # Node counting (None: off): the current block's slot, the indent of each node
        # being written, and (batch loops) the local variable counting each slot.
        self.counts: NodeCounts | None = None
        self.slot: int | None = None
        self.count_locals: dict[int, str] | None = None
        self._slots_name = ""
        self._indents: list[str] = []
        # Batch loops only (None elsewhere): statements run once before the loop, and the
        # times kept in locals: (id(object), attribute) -> (local, object's name, attribute).
        self.setup: list[str] | None = None
        self._times: dict[tuple[int, str], tuple[str, str, str]] = {}

    def start_counting(self, counts: NodeCounts, in_locals: bool) -> int:
        """Count nodes into ``counts``; returns the slot of the top-level block (the
        caller counts it). ``in_locals``: counters are local variables (batch loops)."""
        self.counts = counts
        self._slots_name = self.bind(counts.slots, "cnt")
        self.count_locals = {} if in_locals else None
        self.slot = counts.new_slot()
        return self.slot

    def _count_block(self, indent: str) -> list[str]:
        """Open a new counter for a block whose records differ from its parent's."""
        assert self.counts is not None
        slot = self.counts.new_slot()
        self.slot = slot
        if self.count_locals is None:
            return [f"{indent}{self._slots_name}[{slot}] += 1"]
        var = self.count_locals[slot] = f"n{slot}_"
        return [f"{indent}{var} += 1"]

    def count_flush(self, indent: str) -> list[str]:
        """Batch loops: code adding the local counters to the task's slots."""
        return [f"{indent}{self._slots_name}[{slot}] += {var}"
                for slot, var in (self.count_locals or {}).items()]

    def callee(self, node: Node) -> Any:
        """The function generated code calls to run ``node`` (not inlined). The site counts
        the node, so a counting wrapper is bypassed; a fused function counts itself."""
        process = node.process
        if self.counts is None or self.slot is None:
            return process
        if counts_itself(process):
            inner = getattr(process, "inner", None)
            if inner is None:
                return process  # a fused function with its own counters
            process = inner
        self.counts.attribute(node.name, self.slot)
        return process

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

    def sync_ctx(self, indent: str, times: bool = True) -> list[str]:
        """Code writing the record fields and times held in locals to the TaskContext and
        their objects, for code that reads them there (nothing outside batch loops, where
        the context is always set). ``times=False``: the code that follows reads no time
        kept by ``time_local`` and runs no node (a store's put, whose change logger reads
        the record's timestamp), so only the record's fields are written."""
        ctx = self.lazy_ctx
        if ctx is None:
            return []
        lines = [f"{indent}{ctx}.timestamp = {self.timestamp_expr}"]
        lines.extend(f"{indent}{ctx}.{field} = {local}"
                     for field, local in self.local_fields.items())
        if times:
            # Times asked for later (by a node written further down) are written here too:
            # the marker is expanded once the whole loop is written (``_expand_times``).
            lines.append(f"{indent}{_SYNC_TIMES}")
        return lines

    def time_local(self, obj: Any, attr: str, hint: str) -> str | None:
        """Batch loops: a local variable holding ``obj.<attr>`` for the whole batch (None
        elsewhere: read the attribute). Only for a time that moves forward only (stream
        time, a node's observed stream time): the local is loaded before the loop, written
        back by ``sync_ctx``, read again after a call that may run nodes (``reload_times``:
        a node not written inline updates the attribute itself), and written back when the
        batch ends unless the attribute is later (an exception from such a call). Asked
        again for the same attribute (a node written inline on two paths), it is the same
        local."""
        if self.setup is None:
            return None
        found = self._times.get((id(obj), attr))
        if found is None:
            found = self._times[(id(obj), attr)] = (self.var(hint), self.bind(obj, "t"), attr)
        return found[0]

    def reload_times(self, indent: str) -> list[str]:
        """Code reading the times held in locals again from their objects, after a call
        that may run nodes (which update them there); nothing outside batch loops."""
        return [] if self.setup is None else [f"{indent}{_RELOAD_TIMES}"]

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
                    f"{indent}{self.bind(self.callee(node), 'call')}({key}, {value})",
                    *self.reload_times(indent)]
        self.inlined += 1
        counting = self.counts is not None and self.slot is not None
        if counting and not isinstance(node, SinkNode):  # a sink attributes where it runs
            self.counts.attribute(node.name, self.slot)  # type: ignore[union-attr]
        self._indents.append(indent)
        try:
            lines = emitter(node, self, key, value, indent)
        finally:
            self._indents.pop()
        if type(node) in _READS_CTX:
            lines[:0] = self.sync_ctx(indent)
        return lines

    def children(self, node: Node, key: str, value: str, indent: str) -> list[str]:
        """Code that forwards (key, value) to each child of ``node``, in order."""
        lines: list[str] = []
        saved = self.slot
        if self.counts is not None and self._indents and indent != self._indents[-1]:
            lines.extend(self._count_block(indent))
        try:
            for child in node.children:
                lines.extend(self.node(child, key, value, indent))
        finally:
            self.slot = saved
        if not lines:
            lines.append(f"{indent}pass")
        return lines


def _sink(node: SinkNode, g: Codegen, key: str, value: str, indent: str) -> list[str]:
    """A sink whose collector hands out an append target is written inline (no call)."""
    inline = node.inline_target
    if inline is None:
        return [*g.sync_ctx(indent), f"{indent}{g.bind(g.callee(node), 'call')}({key}, {value})"]
    if g.counts is not None and g.slot is not None:
        g.counts.attribute(node.name, g.slot)
    append, fields = inline
    parts = {"topic": g.bind(node.topic, "topic"), "key": key, "value": value,
             "timestamp": g.timestamp(node.ctx), "headers": g.context_expr(node.ctx, "headers")}
    record = f"({', '.join(parts[f] for f in fields)},)"
    owner = getattr(append, "__self__", None)
    if type(owner) is list and getattr(append, "__name__", "") == "append":
        # ``list.append`` called as a method: the interpreter appends inline (no C call).
        return [f"{indent}{g.bind(owner, 'queue')}.append({record})"]
    return [f"{indent}{g.bind(append, 'append')}({record})"]


register_emitter(SinkNode, _sink, reads_ctx=False)

# Placeholders for the code writing back / reading again the times held in locals.
_SYNC_TIMES = "#sync-times"
_RELOAD_TIMES = "#reload-times"


def _expand_times(lines: list[str], times: list[tuple[str, str, str]]) -> list[str]:
    """Replace the time placeholders of ``sync_ctx``/``reload_times`` with code."""
    out: list[str] = []
    for line in lines:
        code = line.lstrip()
        if code in (_SYNC_TIMES, _RELOAD_TIMES):
            indent = line[:len(line) - len(code)]
            if code == _SYNC_TIMES:
                out.extend(f"{indent}{owner}.{attr} = {local}" for local, owner, attr in times)
            else:
                out.extend(f"{indent}{local} = {owner}.{attr}" for local, owner, attr in times)
        else:
            out.append(line)
    return out


def fuse(node: Node, counts: NodeCounts | None = None) -> Callable[[Any, Any], None] | None:
    """The fused ``process`` of ``node`` (None if the node is not fusable); with ``counts``
    it counts the records of the nodes it runs (a list increment per call and per block)."""
    if type(node) not in _EMITTERS or isinstance(node, SinkNode):
        return None  # a sink is only ever inlined into its parents
    gen = Codegen()
    head: list[str] = []
    if counts is not None:
        top = gen.start_counting(counts, in_locals=False)
        head = [f"    {gen._slots_name}[{top}] += 1"]
    body = head + gen.node(node, "key", "value", "    ")
    source = "def fused(key, value):\n" + "\n".join(body) + "\n"
    filename = f"<fused {node.name}>"
    # Tracebacks through generated code show its lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = dict(gen.env)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own templates
    fused = namespace["fused"]
    fused.__qualname__ = f"fused[{node.name}]"
    fused.source = source  # for debugging: print(node.process.source)
    fused.counts_itself = counts is not None
    return fused


_BATCH_FIELDS = ("key", "value", "timestamp", "headers", "offset")


def compile_batch(ctx: Any, topic: str, partition: int, children: list[Node],
                  fields: tuple[str, ...] = ("key", "value", "timestamp"),
                  counts: NodeCounts | None = None, source: str | None = None
                  ) -> Callable[[Any], None]:
    """A function that runs a batch of records of one topic-partition through a task.

    Records are tuples of ``fields`` (a subset of key, value, timestamp, headers, offset,
    in that order). The loop advances stream time and runs the source's children inline,
    so a record costs no function call of its own. The record's timestamp, headers and
    offset stay in local variables and reach the context only where code may read them
    there (see the module docstring); a ``finally`` leaves the context on the last record
    run, also when an exception escapes. Callers punctuate and commit between batches, as
    Kafka's stream thread does.

    With ``counts``, node record counts are kept in locals and added to ``counts`` when the
    batch ends (or an exception leaves it); the records run at top level - those of
    ``source`` and of every node before the first filter - are counted from the records
    list or tuple, at no per-record cost (``len``, and after an exception the iterator's
    ``__length_hint__``); other iterables (a ``zip`` of columns) count them per record.
    """
    unknown = set(fields) - set(_BATCH_FIELDS)
    if unknown or "key" not in fields or "value" not in fields or "timestamp" not in fields:
        raise ValueError(f"batch fields must include key, value, timestamp; got {fields}")
    gen = Codegen()
    gen.timestamp_expr = "timestamp"
    c = gen.bind(ctx, "ctx")
    gen.lazy_ctx = c
    gen.local_fields = {f: f for f in ("headers", "offset") if f in fields}
    gen.setup = []
    stream_time = gen.time_local(ctx, "stream_time", "stream_time")
    top = None
    if counts is not None:
        top = gen.start_counting(counts, in_locals=True)
        if source is not None:
            counts.attribute(source, top)
    ind = "            " if top is None else "                "
    body = []
    for child in children:
        body.extend(gen.node(child, "key", "value", ind))
    if not body:
        body = [f"{ind}pass"]
    times = list(gen._times.values())
    body = _expand_times(body, times)
    lazy = ["timestamp", *gen.local_fields]
    step = [f"{ind[:-4]}for {', '.join(fields)} in {'records' if top is None else 'it_'}:",
            f"{ind}if timestamp > {stream_time}:",
            f"{ind}    {stream_time} = timestamp"]
    if top is None:
        loop = ["    try:", *step, *body]
    else:
        # Lists and tuples: the top-level count is their length (the list may grow while
        # it runs: len is taken at the end), or, after an exception, what the iterator took.
        # Other iterables (the runtime's zip of decoded columns) count per record.
        slots = gen._slots_name
        loop = [
            "    sized_ = type(records) is list or type(records) is tuple",
            "    n_ = 0",
            *(f"    {var} = 0" for var in gen.count_locals.values()),  # type: ignore[union-attr]
            "    it_ = iter(records)",
            "    try:",
            "        if sized_:",
            *step, *body,
            "        else:",
            *step, f"{ind}n_ += 1", *body,
            f"        {slots}[{top}] += len(records) if sized_ else n_",
            *gen.count_flush("        "),
            "    except BaseException:",
            f"        {slots}[{top}] += len(records) - it_.__length_hint__() if sized_ else n_",
            *gen.count_flush("        "),
            "        raise",
        ]
    head = [
        f"    {c}.topic = {gen.bind(topic, 'topic')}",
        f"    {c}.partition = {partition}",
        *([] if "headers" in fields else [f"    {c}.headers = None"]),
        *([] if "offset" in fields else [f"    {c}.offset = -1"]),
        # An empty batch leaves the context as it was.
        *(f"    {f} = {c}.{f}" for f in lazy),
        *(f"    {local} = {owner}.{attr}" for local, owner, attr in times),
        *gen.setup,
    ]
    tail = [f"        {c}.{f} = {f}" for f in lazy]
    for local, owner, attr in times:  # the later time: a called node may have moved it
        tail += [f"        if {local} > {owner}.{attr}:", f"            {owner}.{attr} = {local}"]
    # Everything bound is a keyword-only default: a local of the function (LOAD_FAST),
    # where a global would be a dict lookup at every use.
    bound = "".join(f",\n        {name}={name}" for name in gen.env)
    text = "\n".join([
        f"def batch(records, *{bound}):" if bound else "def batch(records):",
        *head,
        *loop,
        "    finally:",
        *tail,
    ]) + "\n"
    filename = f"<batch {topic}-{partition}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    namespace = dict(gen.env)
    exec(compile(text, filename, "exec"), namespace)  # noqa: S102 - our own templates
    batch = namespace["batch"]
    batch.source = text
    return batch
