"""Flatten a query's result into plain dict rows: for DataFrames and for JSON responses."""

from __future__ import annotations

from typing import Any

from ..state._base import ValueAndTimestamp
from ..state.versioned import VersionedRecord
from .queries import (
    KeyQuery,
    MultiVersionedKeyQuery,
    Query,
    TimestampedKeyQuery,
    VersionedKeyQuery,
    WindowKeyQuery,
)


def key_columns(key: Any) -> dict[str, Any]:
    """``{"key": k}``, or for a Windowed key ``key``, ``window_start``, ``window_end``."""
    window = getattr(key, "window", None)
    if window is not None and hasattr(key, "key"):
        return {"key": key.key, "window_start": window.start, "window_end": window.end}
    return {"key": key}


def value_columns(value: Any) -> dict[str, Any]:
    if isinstance(value, VersionedRecord):
        return {"value": value.value, "valid_from": value.timestamp, "valid_to": value.valid_to}
    if isinstance(value, ValueAndTimestamp):
        return {"value": value.value, "timestamp": value.timestamp}
    return {"value": value}


def result_rows(query: Query | None, result: Any) -> list[dict[str, Any]]:
    """Rows of one partition's result: a single-key query gives at most one row (none for
    a missing key), range queries one row per entry."""
    if result is None:
        return []
    if isinstance(query, (KeyQuery, TimestampedKeyQuery, VersionedKeyQuery)):
        return [{"key": query.key, **value_columns(result)}]
    if isinstance(query, MultiVersionedKeyQuery):
        return [{"key": query.key, **value_columns(v)} for v in result]
    if isinstance(query, WindowKeyQuery):
        return [{"key": query.key, "window_start": start, **value_columns(value)}
                for start, value in result]
    return [{**key_columns(key), **value_columns(value)} for key, value in result]
