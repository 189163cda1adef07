"""Per-task context: the record being processed, stream time, stores, and the collector.

``TaskContext`` is the engine's side (one per task, read on the hot path by DSL nodes);
``ApiProcessorContext`` is the Processor API's ``ProcessorContext`` a user processor sees.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .._time import to_millis
from ..errors import StreamsException
from ..processor import Cancellable, ProcessorContext, PunctuationType, Record, RecordMetadata

if TYPE_CHECKING:
    from .node import Node
    from .task import Task

log = logging.getLogger("streamnb.engine")

UNKNOWN_TIME = -1


class RecordCollector(Protocol):
    """Where sinks and change loggers send records (a broker producer, or the test driver)."""

    def send(
        self,
        topic: str,
        key: Any,
        value: Any,
        timestamp: int,
        headers: Any,
        key_serde: Any,
        value_serde: Any,
        partitioner: Any,
        sink_name: str | None,
    ) -> None: ...


class TaskContext:
    """Mutable state of one task, shared by all its nodes."""

    __slots__ = ("task", "collector", "app_id", "config", "wall_clock", "timestamp", "headers",
                 "topic", "partition", "offset", "stream_time", "dropped")

    def __init__(self, task: Task, collector: RecordCollector, app_id: str,
                 config: dict[str, Any], wall_clock: Callable[[], int]) -> None:
        self.task = task
        self.collector = collector
        self.app_id = app_id
        self.config = config
        self.wall_clock = wall_clock
        # The current record (set by the task before each source call).
        self.timestamp = 0
        self.headers: Any = None
        self.topic: str | None = None
        self.partition = -1
        self.offset = -1
        self.stream_time = UNKNOWN_TIME
        # Counters read by metrics: records dropped by operators, by reason.
        self.dropped: dict[str, int] = {}

    @property
    def task_id(self) -> str:
        return self.task.task_id

    def resolve_topic(self, topic: str) -> str:
        """The real name of ``topic``: internal topics carry the application id prefix."""
        return self.task.resolve_topic(topic)

    def record_context(self) -> RecordMetadata:
        return RecordMetadata(self.topic or "", self.partition, self.offset)

    def get_store(self, name: str, node: Node | None = None) -> Any:
        return self.task.get_store(name, node)

    def record_dropped(self, node: Node, reason: str) -> None:
        """Count (and log) a record an operator skips, so that no loss is silent."""
        self.dropped[reason] = self.dropped.get(reason, 0) + 1
        if log.isEnabledFor(logging.WARNING):
            # Kafka's wording, so that logs (and log-based tests) read the same.
            log.warning(
                "Skipping record due to %s. topic=[%s] partition=[%s] offset=[%s]",
                reason, self.topic, self.partition, self.offset,
                extra={"processor": node.name, "task_id": self.task_id},
            )


class ApiProcessorContext(ProcessorContext):
    """The ``ProcessorContext`` of one user processor node."""

    def __init__(self, node: Node, ctx: TaskContext) -> None:
        self._node = node
        self._ctx = ctx
        self._children = {child.name: child for child in node.children}

    def forward(self, record: Record, child_name: str | None = None) -> None:
        if not isinstance(record, Record):
            raise TypeError(
                f"forward() takes a Record (e.g. record.with_value(v)), got {type(record).__name__}"
            )
        ctx = self._ctx
        saved = ctx.timestamp, ctx.headers
        ctx.timestamp, ctx.headers = record.timestamp, record._headers
        try:
            if child_name is None:
                self._node.forward(record.key, record.value)
            else:
                child = self._children.get(child_name)
                if child is None:
                    raise StreamsException(
                        f"Unknown downstream node: {child_name} either does not exist or is not "
                        f"connected to this processor ({self._node.name}); its children are "
                        f"{sorted(self._children)}"
                    )
                child.process(record.key, record.value)
        finally:
            ctx.timestamp, ctx.headers = saved

    def schedule(self, interval: Any, punctuation_type: PunctuationType,
                 callback: Callable[[int], None]) -> Cancellable:
        millis = to_millis(interval, "punctuation interval")
        if millis < 1:
            raise ValueError("The minimum supported scheduling interval is 1 millisecond.")
        if not isinstance(punctuation_type, PunctuationType):
            raise TypeError(
                "punctuation_type must be PunctuationType.STREAM_TIME or "
                f"PunctuationType.WALL_CLOCK_TIME, got {punctuation_type!r}"
            )
        if not callable(callback):
            raise TypeError(f"punctuation callback must be callable, got {type(callback).__name__}")
        return self._ctx.task.schedule(millis, punctuation_type, callback, self._node)

    def get_state_store(self, name: str) -> Any:
        return self._ctx.get_store(name, self._node)

    def record_metadata(self) -> RecordMetadata | None:
        ctx = self._ctx
        if ctx.topic is None:
            return None
        return RecordMetadata(ctx.topic, ctx.partition, ctx.offset)

    def commit(self) -> None:
        self._ctx.task.commit_requested = True

    @property
    def application_id(self) -> str:
        return self._ctx.app_id

    @property
    def task_id(self) -> str:
        return self._ctx.task_id

    def current_stream_time_ms(self) -> int:
        return self._ctx.stream_time

    def current_system_time_ms(self) -> int:
        return self._ctx.wall_clock()

    def app_configs(self) -> dict[str, Any]:
        return dict(self._ctx.config)

    @property
    def state_dir(self) -> Any:
        return self._ctx.task.state_dir
