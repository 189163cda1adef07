"""Views of stores for tests: hide the timestamps a DSL store keeps, check the store type."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidStateStoreException
from ..processor import KeyValue
from ..state._base import KeyValueIterator, ValueAndTimestamp

_GETTER = {
    "key_value": "get_key_value_store",
    "window": "get_window_store",
    "session": "get_session_store",
    "versioned": "get_versioned_key_value_store",
}


class TimestampedKeyValueView:
    """A timestamped key-value store read as plain values (or as ``ValueAndTimestamp``)."""

    def __init__(self, store: Any, with_timestamps: bool) -> None:
        self._store = store
        self._with_ts = with_timestamps
        self.name = store.name

    def _out(self, stored: Any) -> Any:
        if stored is None:
            return None
        return ValueAndTimestamp(stored[0], stored[1]) if self._with_ts else stored[0]

    def get(self, key: Any) -> Any:
        return self._out(self._store.get(key))

    def _pairs(self, it: Any) -> KeyValueIterator:
        return KeyValueIterator((kv[0], self._out(kv[1])) for kv in it)

    def all(self) -> KeyValueIterator:
        return self._pairs(self._store.all())

    def reverse_all(self) -> KeyValueIterator:
        return self._pairs(self._store.reverse_all())

    def range(self, from_key: Any = None, to_key: Any = None) -> KeyValueIterator:
        return self._pairs(self._store.range(from_key, to_key))

    def reverse_range(self, from_key: Any = None, to_key: Any = None) -> KeyValueIterator:
        return self._pairs(self._store.reverse_range(from_key, to_key))

    def prefix_scan(self, prefix: Any) -> KeyValueIterator:
        return self._pairs(self._store.prefix_scan(prefix))

    def approximate_num_entries(self) -> int:
        return self._store.approximate_num_entries()

    def put(self, key: Any, value: Any, timestamp: int = 0) -> None:
        """Write a value (with ``timestamp``) - for test set-up, as Kafka's facade allows."""
        self._store.put(key, None if value is None else (value, timestamp))

    def delete(self, key: Any) -> Any:
        old = self.get(key)
        self._store.put(key, None)
        return old

    def to_dict(self) -> dict[Any, Any]:
        return {kv.key: kv.value for kv in self.all()}

    def __iter__(self) -> Any:
        return iter(self.all())

    def __repr__(self) -> str:
        return f"<store {self.name!r} ({self._store.approximate_num_entries()} entries)>"


def wrap_store_for_driver(store: Any, kind: str, timestamped_view: bool) -> Any:
    """Check that ``store`` is of ``kind`` and return the view a test expects."""
    actual = getattr(store, "kind", "key_value")
    if actual != kind:
        raise InvalidStateStoreException(
            f"state store {store.name!r} is a {actual.replace('_', '-')} store, not a "
            f"{kind.replace('_', '-')} store: read it with driver.{_GETTER[actual]}({store.name!r})"
        )
    if kind == "key_value" and getattr(store, "timestamped", False):
        return TimestampedKeyValueView(store, timestamped_view)
    view = getattr(store, "driver_view", None)
    return view(timestamped_view) if view is not None else store


__all__ = ["KeyValue", "TimestampedKeyValueView", "wrap_store_for_driver"]
