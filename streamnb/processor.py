"""The Processor API's public types: Record, Processor, ProcessorContext, punctuation.

These mirror ``org.apache.kafka.streams.processor.api``: a processor receives each
``Record`` in ``process``, may forward new records through its context, read and write the
state stores connected to it, and schedule punctuations on stream time or wall-clock time.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

__all__ = [
    "Cancellable",
    "Headers",
    "KeyValue",
    "Processor",
    "ProcessorContext",
    "PunctuationType",
    "Record",
    "RecordMetadata",
]


class KeyValue(NamedTuple):
    """A key and a value; unpacks like a tuple."""

    key: Any
    value: Any

    @staticmethod
    def pair(key: Any, value: Any) -> KeyValue:
        """Kafka's ``KeyValue.pair``."""
        return KeyValue(key, value)


class Headers:
    """Record headers: an ordered list of ``(key, bytes)`` pairs; keys may repeat."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, bytes | None]] | None = None) -> None:
        self._items: list[tuple[str, bytes | None]] = []
        if items:
            if isinstance(items, dict):
                items = items.items()
            for key, value in items:
                self.add(key, value)

    def add(self, key: str, value: bytes | str | None) -> Headers:
        """Append a header (str values are stored UTF-8 encoded)."""
        if not isinstance(key, str):
            raise TypeError(f"header key must be str, got {type(key).__name__}")
        if isinstance(value, str):
            value = value.encode("utf-8")
        elif value is not None and not isinstance(value, (bytes, bytearray)):
            raise TypeError(f"header value must be bytes, str or None, got {type(value).__name__}")
        self._items.append((key, None if value is None else bytes(value)))
        return self

    def remove(self, key: str) -> Headers:
        """Remove every header named ``key``."""
        self._items = [item for item in self._items if item[0] != key]
        return self

    def last_header(self, key: str) -> bytes | None:
        """The value of the last header named ``key``, or ``None``."""
        for name, value in reversed(self._items):
            if name == key:
                return value
        return None

    def headers(self, key: str) -> list[bytes | None]:
        """Every value of the headers named ``key``, in order."""
        return [value for name, value in self._items if name == key]

    def to_list(self) -> list[tuple[str, bytes | None]]:
        """The headers as a list of ``(key, value)`` pairs (what Kafka clients take)."""
        return list(self._items)

    def copy(self) -> Headers:
        copy = Headers()
        copy._items = list(self._items)
        return copy

    def __iter__(self) -> Iterator[tuple[str, bytes | None]]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return self._items == other._items
        if isinstance(other, (list, tuple)):
            return self._items == [tuple(item) for item in other]
        return NotImplemented

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


def _as_headers(headers: Any) -> Headers:
    if headers is None:
        return Headers()
    if isinstance(headers, Headers):
        return headers
    return Headers(headers)


class Record:
    """One record: key, value, timestamp (epoch ms) and headers. Immutable by convention.

    ``with_key``/``with_value``/``with_timestamp``/``with_headers`` return a copy, as in Kafka.
    """

    __slots__ = ("key", "value", "timestamp", "_headers")

    def __init__(self, key: Any, value: Any, timestamp: int, headers: Any = None) -> None:
        if isinstance(timestamp, bool) or not isinstance(timestamp, int):
            raise TypeError(
                f"Record timestamp must be int epoch milliseconds, got {type(timestamp).__name__}"
            )
        if timestamp < 0:
            raise ValueError(f"Record timestamp must not be negative, got {timestamp}")
        self.key = key
        self.value = value
        self.timestamp = timestamp
        self._headers = headers

    @property
    def headers(self) -> Headers:
        """The record's headers (an empty ``Headers`` when there are none)."""
        if not isinstance(self._headers, Headers):
            self._headers = _as_headers(self._headers)
        return self._headers

    def with_key(self, key: Any) -> Record:
        return Record(key, self.value, self.timestamp, self._headers)

    def with_value(self, value: Any) -> Record:
        return Record(self.key, value, self.timestamp, self._headers)

    def with_timestamp(self, timestamp: int) -> Record:
        return Record(self.key, self.value, timestamp, self._headers)

    def with_headers(self, headers: Any) -> Record:
        return Record(self.key, self.value, self.timestamp, _as_headers(headers))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record):
            return NotImplemented
        return (self.key, self.value, self.timestamp, self.headers) == (
            other.key, other.value, other.timestamp, other.headers,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Record(key={self.key!r}, value={self.value!r}, timestamp={self.timestamp})"


class RecordMetadata(NamedTuple):
    """Where the record being processed came from: topic, partition and offset."""

    topic: str
    partition: int
    offset: int


class PunctuationType(enum.Enum):
    """What drives a punctuation: the task's stream time, or the wall clock."""

    STREAM_TIME = "STREAM_TIME"
    WALL_CLOCK_TIME = "WALL_CLOCK_TIME"


class Cancellable:
    """Handle returned by ``ProcessorContext.schedule``; ``cancel()`` stops the schedule."""

    __slots__ = ("cancelled",)

    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ProcessorContext:
    """What a processor can do besides computing: forward, schedule, reach its stores.

    The engine hands each processor an implementation of this interface in ``init``.
    """

    def forward(self, record: Record, child_name: str | None = None) -> None:
        """Send ``record`` to every child node, or only to ``child_name``."""
        raise NotImplementedError

    def schedule(
        self, interval: Any, punctuation_type: PunctuationType, callback: Callable[[int], None]
    ) -> Cancellable:
        """Call ``callback(timestamp)`` every ``interval`` (ms or timedelta) of the given time."""
        raise NotImplementedError

    def get_state_store(self, name: str) -> Any:
        """The state store ``name``, which must be connected to this processor."""
        raise NotImplementedError

    def record_metadata(self) -> RecordMetadata | None:
        """Topic, partition and offset of the record being processed (None in a punctuation)."""
        raise NotImplementedError

    def commit(self) -> None:
        """Ask for a commit as soon as possible."""
        raise NotImplementedError

    @property
    def application_id(self) -> str:
        raise NotImplementedError

    @property
    def task_id(self) -> str:
        raise NotImplementedError

    def current_stream_time_ms(self) -> int:
        raise NotImplementedError

    def current_system_time_ms(self) -> int:
        raise NotImplementedError

    def app_configs(self) -> dict[str, Any]:
        raise NotImplementedError


class Processor:
    """Base class of user processors: override ``process`` (and ``init``/``close`` if needed)."""

    def init(self, context: ProcessorContext) -> None:
        """Called once before the first record, with the context to keep."""
        self.context = context

    def process(self, record: Record) -> None:
        """Called for every record that reaches this processor."""
        raise NotImplementedError(f"{type(self).__name__} must implement process(record)")

    def close(self) -> None:
        """Called when the task closes."""
