"""The engine's node: the unit every DSL operator and user processor runs as.

A node's hot path is ``process(key, value)``; everything else about the record (timestamp,
headers, topic, partition, offset) lives once per task in the ``TaskContext``, so that a
chain of stateless operators costs one Python call per operator and no per-record objects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import TaskContext


def _drop(key: Any, value: Any) -> None:
    """Forward target of a node without children."""


class Node:
    """Base of engine nodes. Subclasses implement ``process``; ``forward`` is bound at init."""

    #: Names of the stores this node reads or writes (filled from the topology).
    store_names: tuple[str, ...] = ()

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.children: list[Node] = []
        self.ctx: TaskContext = None  # type: ignore[assignment]
        self.forward: Callable[[Any, Any], None] = _drop

    def init(self, ctx: TaskContext) -> None:
        """Bind the context and the fastest forward for the children (already initialised)."""
        self.ctx = ctx
        self.forward = self._make_forward()

    def _make_forward(self) -> Callable[[Any, Any], None]:
        children = self.children
        if not children:
            return _drop
        if len(children) == 1:
            return children[0].process
        targets = tuple(child.process for child in children)

        def forward_all(key: Any, value: Any) -> None:
            for target in targets:
                target(key, value)

        return forward_all

    def forward_at(self, key: Any, value: Any, timestamp: int) -> None:
        """Forward with another record timestamp, restoring the current one afterwards."""
        ctx = self.ctx
        saved = ctx.timestamp
        ctx.timestamp = timestamp
        try:
            self.forward(key, value)
        finally:
            ctx.timestamp = saved

    def process(self, key: Any, value: Any) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release what ``init`` took (stores are closed by the task)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class SourceNode(Node):
    """Entry of records read from a topic: forwards them unchanged."""

    def __init__(self, name: str, topics: list[str]) -> None:
        super().__init__(name)
        self.topics = topics

    def init(self, ctx: TaskContext) -> None:
        super().init(ctx)
        # A source's process *is* its forward: no extra call per record.
        self.process = self.forward  # type: ignore[method-assign]

    def process(self, key: Any, value: Any) -> None:  # replaced at init
        self.forward(key, value)


class SinkNode(Node):
    """Exit to a topic: hands the record to the task's record collector."""

    def __init__(
        self,
        name: str,
        topic: str | None,
        topic_extractor: Callable[..., str] | None,
        key_serde: Any,
        value_serde: Any,
        partitioner: Callable[..., int | None] | None,
    ) -> None:
        super().__init__(name)
        self.topic = topic
        self.topic_extractor = topic_extractor
        self.key_serde = key_serde
        self.value_serde = value_serde
        self.partitioner = partitioner
        # (append, fields): set when the collector lets fused code append records directly.
        self.inline_target: tuple[Callable[[tuple], None], tuple[str, ...]] | None = None

    def init(self, ctx: TaskContext) -> None:
        super().init(ctx)
        self._send = ctx.collector.send
        if self.topic_extractor is None and self.topic is not None:
            self.topic = ctx.resolve_topic(self.topic)
            # A collector may compile this sink into one function bound to its topic and
            # serdes, saving the per-record resolution (and a call) on the hot path.
            compile_sink = getattr(ctx.collector, "sink_process", None)
            if compile_sink is not None:
                self.process = compile_sink(  # type: ignore[method-assign]
                    self.topic, self.key_serde, self.value_serde, self.partitioner, self.name, ctx)
            inline = getattr(ctx.collector, "sink_inline", None)
            if inline is not None:
                self.inline_target = inline(self.topic, self.key_serde, self.value_serde,
                                            self.partitioner, self.name)

    def process(self, key: Any, value: Any) -> None:
        ctx = self.ctx
        topic = self.topic
        if self.topic_extractor is not None:
            topic = self.topic_extractor(key, value, ctx.record_context())
            if not isinstance(topic, str) or not topic:
                raise TypeError(
                    f"topic extractor of sink {self.name} returned {topic!r}; it must return a "
                    "topic name (str)"
                )
        self._send(
            topic, key, value, ctx.timestamp, ctx.headers, self.key_serde, self.value_serde,
            self.partitioner, self.name,
        )
