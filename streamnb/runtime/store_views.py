"""Read-only views of a store over all its local tasks, and its DataFrame form.

A store exists once per task (partition); queries see the union, as Kafka's interactive
queries do on one instance. Each read takes the owning thread's lock, so it sees a store
between two batches, never half-way through one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..processor import KeyValue
from ..state._base import KeyValueIterator, ValueAndTimestamp, sorted_items

Locate = Callable[[], list[tuple[Any, Any, int]]]


def _plain(store: Any, stored: Any) -> Any:
    """DSL stores keep (value, timestamp); queries return the value, as Kafka's facade."""
    if stored is not None and getattr(store, "timestamped", False):
        return stored[0]
    return stored


class CompositeStoreView:
    """``get`` / ``all`` / ``range`` / ``approximate_num_entries`` over every local task."""

    def __init__(self, name: str, locate: Locate) -> None:
        self.name = name
        self._locate = locate

    def get(self, key: Any) -> Any:
        for store, lock, _partition in self._locate():
            with lock:
                found = store.get(key)
            if found is not None:
                return _plain(store, found)
        return None

    def get_with_timestamp(self, key: Any) -> ValueAndTimestamp | None:
        for store, lock, _partition in self._locate():
            with lock:
                found = store.get(key)
            if found is not None and getattr(store, "timestamped", False):
                return ValueAndTimestamp(found[0], found[1])
        return None

    def _collect(self, method: str, *args: Any) -> list[tuple[Any, Any]]:
        pairs = []
        for store, lock, _partition in self._locate():
            with lock:
                pairs.extend((kv[0], _plain(store, kv[1])) for kv in getattr(store, method)(*args))
        return pairs

    def all(self) -> KeyValueIterator:
        return KeyValueIterator(sorted_items(self._collect("all")))

    def range(self, from_key: Any = None, to_key: Any = None) -> KeyValueIterator:
        return KeyValueIterator(sorted_items(self._collect("range", from_key, to_key)))

    def approximate_num_entries(self) -> int:
        total = 0
        for store, lock, _partition in self._locate():
            with lock:
                total += store.approximate_num_entries()
        return total

    def __getattr__(self, method: str) -> Any:
        """Other read methods (window ``fetch``, session ``fetch``...): results of all local
        stores, concatenated; single values: the first that is not None."""
        if method.startswith("_") or method in ("put", "delete", "put_all", "put_if_absent"):
            raise AttributeError(f"store view {self.name!r} is read-only: no {method}")

        def call(*args: Any, **kwargs: Any) -> Any:
            results = []
            for store, lock, _partition in self._locate():
                # Window and session stores keep (value, timestamp): read them through the
                # same plain-value view the test driver gives, as Kafka's read-only stores do.
                plain_view = getattr(store, "driver_view", None)
                target = plain_view(False) if plain_view is not None else store
                with lock:
                    result = getattr(target, method)(*args, **kwargs)
                    if not isinstance(result, (list, tuple, dict, type(None), int, float,
                                               str, bytes)):
                        result = list(result)  # iterate while holding the lock
                    if result is None or isinstance(result, (int, float, str, bytes, tuple)):
                        if result is not None:
                            return result
                        continue
                    results.extend(result)
            return results
        return call

    def __repr__(self) -> str:
        return f"<store view {self.name!r}>"


def store_frame(located: list[tuple[Any, Any, int]]) -> Any:
    """The entries of every located store as one DataFrame (see KafkaStreams.to_pandas)."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    windowed = False
    timestamped = False
    for store, lock, partition in located:
        ts_store = bool(getattr(store, "timestamped", False))
        with lock:
            entries = list(store.all())
        for entry in entries:
            key, value = (entry.key, entry.value) if isinstance(entry, KeyValue) else entry
            row: dict[str, Any] = {}
            window = getattr(key, "window", None)
            if window is not None:
                windowed = True
                row["key"] = key.key
                row["window_start"] = window.start
                row["window_end"] = window.end
            else:
                row["key"] = key
            if ts_store and isinstance(value, tuple) and len(value) == 2:
                timestamped = True
                row["value"], row["timestamp"] = value
            else:
                row["value"] = value
            row["partition"] = partition
            rows.append(row)
    columns = ["key", "value"]
    if windowed:
        columns += ["window_start", "window_end"]
    if timestamped:
        columns.append("timestamp")
    columns.append("partition")
    return pd.DataFrame(rows, columns=columns)
