"""TestInputTopic and TestOutputTopic: pipe records in, read results out."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .._time import to_millis, to_timestamp
from ..errors import NoSuchElementException
from ..processor import KeyValue
from .records import TestRecord

if TYPE_CHECKING:
    from .driver import TopologyTestDriver

_MISSING = object()


class TestInputTopic:
    """Pipes records into one topic of a driver. Records without a timestamp get the topic's
    current time, which then moves on by ``auto_advance``."""

    __test__ = False

    def __init__(self, driver: TopologyTestDriver, name: str, key_serde: Any, value_serde: Any,
                 start_timestamp: int, auto_advance: int) -> None:
        self._driver = driver
        self.name = name
        self._key_serde = key_serde
        self._value_serde = value_serde
        self._current_time = start_timestamp
        if auto_advance < 0:
            raise ValueError(f"auto_advance must not be negative, got {auto_advance} ms")
        self._advance = auto_advance

    def _next_time(self, timestamp: Any) -> int:
        if timestamp is not None:
            return to_timestamp(timestamp)
        now = self._current_time
        self._current_time += self._advance
        return now

    def advance_time(self, duration: Any) -> None:
        """Move this topic's clock for records piped without a timestamp."""
        millis = to_millis(duration, "duration")
        if millis < 0:
            raise ValueError(f"advance_time needs a non-negative duration, got {millis} ms")
        self._current_time += millis

    def pipe_input(self, key: Any, value: Any = _MISSING, timestamp: Any = None,
                   headers: Any = None) -> None:
        """Send one record: ``pipe_input(key, value[, timestamp])``, ``pipe_input(value)``
        (no key) or ``pipe_input(TestRecord(...))``."""
        if value is _MISSING:
            if isinstance(key, TestRecord):
                record = key
                self._driver._pipe(self, record.key, record.value,
                                   self._next_time(record.timestamp), record._headers)
                return
            key, value = None, key
        self._driver._pipe(self, key, value, self._next_time(timestamp), headers)

    def pipe_record_list(self, records: Iterable[TestRecord]) -> None:
        for record in records:
            self.pipe_input(record)

    def pipe_key_value_list(self, pairs: Iterable[tuple[Any, Any]], start: Any = None,
                            advance: Any = None) -> None:
        """Send ``(key, value)`` pairs; with ``start``, timestamps are start, start+advance..."""
        if start is None:
            for key, value in pairs:
                self.pipe_input(key, value)
            return
        time = to_timestamp(start, "start")
        step = 0 if advance is None else to_millis(advance, "advance")
        for key, value in pairs:
            self.pipe_input(key, value, time)
            time += step

    def pipe_value_list(self, values: Iterable[Any], start: Any = None, advance: Any = None
                        ) -> None:
        """Send values with no key (timestamps as in ``pipe_key_value_list``)."""
        self.pipe_key_value_list(((None, v) for v in values), start, advance)

    def __repr__(self) -> str:
        return f"<TestInputTopic {self.name!r}>"


class TestOutputTopic:
    """Reads what the topology wrote to one topic, oldest first; reads consume."""

    __test__ = False

    def __init__(self, driver: TopologyTestDriver, name: str, key_serde: Any,
                 value_serde: Any) -> None:
        self._driver = driver
        self.name = name
        self._key_serde = key_serde
        self._value_serde = value_serde

    def read_record(self) -> TestRecord:
        """The next record; raises ``NoSuchElementException`` when there is none."""
        return self._driver._read(self)

    def read_value(self) -> Any:
        return self.read_record().value

    def read_key_value(self) -> KeyValue:
        record = self.read_record()
        return KeyValue(record.key, record.value)

    def read_records_to_list(self) -> list[TestRecord]:
        records = []
        while not self.is_empty():
            records.append(self.read_record())
        return records

    def read_values_to_list(self) -> list[Any]:
        return [r.value for r in self.read_records_to_list()]

    def read_key_values_to_list(self) -> list[KeyValue]:
        return [KeyValue(r.key, r.value) for r in self.read_records_to_list()]

    def read_key_values_to_map(self) -> dict[Any, Any]:
        """The last value per key (a None value stays as None, as in Kafka)."""
        result: dict[Any, Any] = {}
        for record in self.read_records_to_list():
            if record.key is None:
                raise NoSuchElementException(
                    "Null keys not allowed with readKeyValuesToMap method (a record of topic "
                    f"{self.name!r} has a None key); use read_key_values_to_list for it"
                )
            result[record.key] = record.value
        return result

    def get_queue_size(self) -> int:
        return self._driver._queue_size(self.name)

    def is_empty(self) -> bool:
        return self.get_queue_size() == 0

    def __len__(self) -> int:
        return self.get_queue_size()

    def __repr__(self) -> str:
        return f"<TestOutputTopic {self.name!r} size={self.get_queue_size()}>"
