"""State stores as pandas DataFrames, from a TopologyTestDriver, a running app, or a store.

One row per entry; columns ``key`` and ``value`` first, then what the store kind adds:
``window_start``/``window_end`` (pandas Timestamps, UTC) for window and session stores,
``timestamp`` for timestamped stores (when the record that set the value happened), and
``valid_to`` for versioned stores, which can also be read ``as_of`` a past time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..state._base import ValueAndTimestamp

__all__ = ["store_to_frame", "state_frame", "records_to_frame"]

_RETRIES = 5


def _windowed_parts(key: Any) -> tuple[Any, int, int] | None:
    window = getattr(key, "window", None)
    if window is not None and hasattr(key, "key"):
        return key.key, window.start, window.end
    return None


def _value_parts(value: Any, timestamped: bool) -> tuple[Any, Any, Any]:
    """(value, timestamp, valid_to) of a stored value, whatever wrapper it has."""
    if isinstance(value, ValueAndTimestamp):
        return value.value, value.timestamp, None
    if hasattr(value, "valid_to") and hasattr(value, "timestamp") and hasattr(value, "value"):
        return value.value, value.timestamp, value.valid_to  # VersionedRecord
    if timestamped and isinstance(value, tuple) and len(value) == 2:
        return value[0], value[1], None
    return value, None, None


def _rows(store: Any, as_of: int | None) -> list[dict[str, Any]]:
    kind = getattr(store, "kind", "key_value")
    timestamped = bool(getattr(store, "timestamped", False))
    if kind == "versioned" and as_of is not None:
        keys = getattr(store, "keys", None) or getattr(store, "_keys", None)
        if keys is None:
            raise TypeError(f"versioned store {store.name!r} cannot list its keys for as_of")
        rows = []
        for key in keys():
            record = store.get(key, as_of)
            if record is not None:
                rows.append({"key": key, "value": record.value, "timestamp": record.timestamp,
                             "valid_to": record.valid_to})
        return rows
    if as_of is not None:
        raise ValueError(
            f"as_of only applies to versioned stores; {store.name!r} is a "
            f"{kind.replace('_', '-')} store")
    entries = _iterate(store, kind)
    rows = []
    for entry in entries:
        if len(entry) == 3:  # (key, timestamp, value): stream-stream join buffers
            key, ts, value = entry
            rows.append({"key": key, "value": value, "timestamp": ts})
            continue
        key, stored = entry
        value, ts, valid_to = _value_parts(stored, timestamped)
        row: dict[str, Any] = {}
        windowed = _windowed_parts(key)
        if windowed is not None:
            row["key"], row["value"] = windowed[0], value
            row["window_start"], row["window_end"] = windowed[1], windowed[2]
        else:
            row["key"], row["value"] = key, value
        if ts is not None:
            row["timestamp"] = ts
        if kind == "versioned":
            row["valid_to"] = valid_to
        rows.append(row)
    return rows


def _iterate(store: Any, kind: str) -> list[tuple]:
    """A snapshot list of the store's entries.

    A running app writes from its stream thread while we read here; a dict resized under an
    iterator raises RuntimeError, so the snapshot is retried (it is a read, nothing is lost).
    """
    reader = getattr(store, "all", None)
    if reader is None and kind == "window":
        reader = getattr(store, "fetch_all", None)
        reader = None if reader is None else (lambda r=reader: r(0, 2**63 - 1))
    if reader is None and kind == "session":
        finder = getattr(store, "fetch", None)
        reader = None if finder is None else (lambda f=finder: f(None, None))
    if reader is None:
        raise TypeError(
            f"store {getattr(store, 'name', store)!r} ({type(store).__name__}) has no all() to "
            "read it whole")
    for attempt in range(_RETRIES):
        try:
            return [tuple(e) for e in reader()]
        except RuntimeError:
            if attempt == _RETRIES - 1:
                raise
    return []


def _columns_for(kind: str, rows: list[dict[str, Any]]) -> list[str]:
    columns = ["key", "value"]
    if kind in ("window", "session") or any("window_start" in r for r in rows):
        columns += ["window_start", "window_end"]
    if any("timestamp" in r for r in rows):
        columns.append("timestamp")
    if kind == "versioned":
        if "timestamp" not in columns:
            columns.append("timestamp")
        columns.append("valid_to")
    return columns


def records_to_frame(rows: Iterable[dict[str, Any]], columns: list[str]) -> Any:
    """A DataFrame of ``rows`` with the time columns (epoch ms) as UTC Timestamps."""
    import pandas as pd

    frame = pd.DataFrame(list(rows), columns=columns)
    for column in ("window_start", "window_end", "timestamp", "valid_to"):
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column], unit="ms", utc=True)
    return frame


def store_to_frame(store: Any, as_of: int | None = None) -> Any:
    """Every entry of ``store`` (an engine store) as a DataFrame; see the module docstring.

    ``as_of`` (epoch ms) reads a versioned store as it was at that time.
    """
    kind = getattr(store, "kind", "key_value")
    rows = _rows(store, as_of)
    return records_to_frame(rows, _columns_for(kind, rows))


def _located(source: Any, name: str) -> list[tuple[Any, Any, int | None]]:
    """(store, lock or None, partition) of every instance of store ``name`` in ``source``."""
    getter = getattr(source, "get_state_store", None)
    if getter is not None and hasattr(source, "create_input_topic"):
        return [(getter(name), None, None)]  # TopologyTestDriver: one task holds all
    # KafkaStreams: one store per task; reading under the owning thread's lock sees a store
    # between two batches (``local_stores()`` lists the names; this locates instances).
    local = getattr(source, "_local_stores", None)
    if local is not None:
        return list(local(name))
    raise TypeError(
        f"cannot read stores from a {type(source).__name__}: pass a TopologyTestDriver, a "
        "KafkaStreams, a notebook app, or a store")


def _frame_of(store: Any, lock: Any, as_of: int | None) -> Any:
    if lock is None:
        return store_to_frame(store, as_of)
    with lock:
        kind = getattr(store, "kind", "key_value")
        rows = _rows(store, as_of)
    return records_to_frame(rows, _columns_for(kind, rows))


def state_frame(source: Any, name: str | None = None, as_of: int | None = None) -> Any:
    """The store ``name`` of ``source`` as a DataFrame.

    ``source`` is a ``TopologyTestDriver``, a ``KafkaStreams`` (or the notebook app that runs
    one), or a store itself (then ``name`` is not needed). A running app's store is the union
    of its tasks' stores (one per partition).
    """
    from .apps import NotebookApp

    if isinstance(source, NotebookApp):
        if source.streams is None:
            raise ValueError(f"app {source.app_id!r} is not started: its stores hold nothing yet")
        source = source.streams
    if name is None:
        if hasattr(source, "all") and hasattr(source, "name"):
            return store_to_frame(source, as_of)
        raise TypeError("state_frame needs a store name with a driver or an app")
    try:
        located = _located(source, name)
    except TypeError:
        to_pandas = getattr(source, "to_pandas", None)
        if to_pandas is None or as_of is not None:
            raise
        return to_pandas(name)
    import pandas as pd

    frames = []
    for store, lock, partition in located:
        frame = _frame_of(store, lock, as_of)
        if partition is not None:
            frame["partition"] = partition
        frames.append(frame)
    if len(frames) == 1:
        return frames[0]
    if not frames:  # no partition assigned here (yet)
        builder = getattr(getattr(source, "topology", None), "stores", {}).get(name)
        kind = getattr(getattr(builder, "supplier", builder), "kind", "key_value")
        frame = records_to_frame([], _columns_for(kind, []))
        frame["partition"] = pd.Series(dtype="int64")
        return frame
    return pd.concat(frames, ignore_index=True)
