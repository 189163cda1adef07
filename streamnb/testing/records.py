"""TestRecord: a record as a test reads it from (or pipes it into) the driver."""

from __future__ import annotations

from typing import Any

from .._time import to_timestamp
from ..processor import Headers


class TestRecord:
    """Key, value, timestamp and headers of one test record; equal when all four match."""

    __test__ = False  # not a pytest test class
    __slots__ = ("key", "value", "timestamp", "_headers")

    def __init__(self, key: Any = None, value: Any = None, timestamp: Any = None,
                 headers: Any = None) -> None:
        self.key = key
        self.value = value
        self.timestamp = None if timestamp is None else to_timestamp(timestamp)
        self._headers = headers

    @property
    def headers(self) -> Headers:
        if not isinstance(self._headers, Headers):
            self._headers = Headers(self._headers)
        return self._headers

    @property
    def record_time(self) -> int | None:
        """Kafka's name for the timestamp."""
        return self.timestamp

    def key_value(self) -> tuple[Any, Any]:
        return self.key, self.value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TestRecord):
            return NotImplemented
        return (self.key == other.key and self.value == other.value
                and self.timestamp == other.timestamp and self.headers == other.headers)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        extra = f", headers={self.headers.to_list()!r}" if self._headers else ""
        return (f"TestRecord(key={self.key!r}, value={self.value!r}, "
                f"timestamp={self.timestamp}{extra})")
