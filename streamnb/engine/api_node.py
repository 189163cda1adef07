"""Runs a user ``Processor`` (the Processor API) as an engine node."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..processor import Processor, Record
from .context import ApiProcessorContext
from .node import Node

if TYPE_CHECKING:
    from .context import TaskContext


class ProcessorApiNode(Node):
    """Adapts ``process(key, value)`` to ``Processor.process(Record)``."""

    def __init__(self, name: str, processor: Processor) -> None:
        super().__init__(name)
        if not callable(getattr(processor, "process", None)):
            raise TypeError(
                f"the processor supplier of {name} returned {type(processor).__name__}, which has "
                "no process(record) method; return a streamnb.Processor subclass instance"
            )
        self.processor = processor
        self.api_context: ApiProcessorContext | None = None

    def init(self, ctx: TaskContext) -> None:
        super().init(ctx)
        self.api_context = ApiProcessorContext(self, ctx)
        init = getattr(self.processor, "init", None)
        if init is not None:
            init(self.api_context)

    def process(self, key: Any, value: Any) -> None:
        ctx = self.ctx
        self.processor.process(Record(key, value, ctx.timestamp, ctx.headers))

    def close(self) -> None:
        close = getattr(self.processor, "close", None)
        if close is not None:
            close()
