"""The in-memory key-value store: a dict, the fastest store and the default for tests."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._base import (
    ClosedStoreData,
    KeyValueIterator,
    StateStore,
    has_prefix,
    in_range,
    sorted_items,
)


class InMemoryKeyValueStore(StateStore):
    """A key-value store held in a dict; ``range`` and ``all`` return keys in order."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._data: dict[Any, Any] = {}

    def init(self, directory: Any = None) -> None:
        super().init(directory)
        if not isinstance(self._data, dict):  # reopened after close: empty, as in Kafka
            self._data = {}

    def close(self) -> None:
        """Drop the data (as Kafka's in-memory store does); later use raises clearly."""
        super().close()
        self._data = ClosedStoreData(self)  # type: ignore[assignment]

    def get(self, key: Any) -> Any:
        """The value for ``key``, or ``None``."""
        return self._data.get(key)

    def put(self, key: Any, value: Any) -> None:
        """Store ``value`` under ``key``; a ``None`` value deletes the key."""
        if value is None:
            if key is None:
                raise ValueError(f"store {self.name!r}: keys must not be None")
            self._data.pop(key, None)
        elif key is None:
            raise ValueError(f"store {self.name!r}: keys must not be None")
        else:
            self._data[key] = value
        logger = self._change_logger
        if logger is not None:
            logger(key, value)

    def fast_ops(self) -> tuple[Any, Any]:
        """``(get, put_value)`` for hot loops: ``get`` is the dict's own, ``put_value`` stores a
        non-None value under a non-None key and logs it. Call after the store is wired up."""
        data = self._data
        logger = self._change_logger
        if logger is None:
            return data.get, data.__setitem__

        def put_value(key: Any, value: Any) -> None:
            data[key] = value
            logger(key, value)

        return data.get, put_value

    def raw_ops(self) -> tuple[Any, Any, Any]:
        """``(get, set, log)``: the dict's own get and set, and the change logger (or None),
        for generated code that writes a non-None value under a non-None key."""
        return self._data.get, self._data.__setitem__, self._change_logger

    def put_if_absent(self, key: Any, value: Any) -> Any:
        """Store ``value`` only when ``key`` has none; return the previous value."""
        old = self._data.get(key)
        if old is None:
            self.put(key, value)
        return old

    def put_all(self, entries: Iterable[tuple[Any, Any]]) -> None:
        for key, value in entries:
            self.put(key, value)

    def delete(self, key: Any) -> Any:
        """Remove ``key`` and return its old value (or ``None``)."""
        old = self._data.get(key)
        self.put(key, None)
        return old

    def range(self, from_key: Any = None, to_key: Any = None) -> KeyValueIterator:
        """Entries with ``from_key <= key <= to_key`` in key order (``None`` = unbounded)."""
        return KeyValueIterator(
            sorted_items((k, v) for k, v in self._data.items() if in_range(k, from_key, to_key))
        )

    def reverse_range(self, from_key: Any = None, to_key: Any = None) -> KeyValueIterator:
        return KeyValueIterator(
            sorted_items(
                ((k, v) for k, v in self._data.items() if in_range(k, from_key, to_key)),
                reverse=True,
            )
        )

    def all(self) -> KeyValueIterator:
        """Every entry, in key order."""
        return KeyValueIterator(sorted_items(self._data.items()))

    def reverse_all(self) -> KeyValueIterator:
        return KeyValueIterator(sorted_items(self._data.items(), reverse=True))

    def prefix_scan(self, prefix: Any) -> KeyValueIterator:
        """Entries whose str/bytes/tuple key starts with ``prefix``, in key order."""
        return KeyValueIterator(
            sorted_items((k, v) for k, v in self._data.items() if has_prefix(k, prefix))
        )

    def approximate_num_entries(self) -> int:
        return len(self._data)

    def _restore(self, key: Any, value: Any) -> None:
        """Apply a changelog record without logging it again."""
        if value is None:
            self._data.pop(key, None)
        else:
            self._data[key] = value
