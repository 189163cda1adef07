"""Parsing REST query parameters into Python values, with 4xx errors that say what to fix."""

from __future__ import annotations

import base64
import json
import math
from typing import Any

from .position import PositionBound

KEY_TYPES = ("auto", "string", "int", "float", "json")
#: Kafka's timestamps are Java longs: a time above this cannot be in any store
MAX_TIME_MS = 2**63 - 1
#: JSON keys nest at most this deep (a store key is a value or a short tuple of them;
#: deeper input would only run the decoder out of stack)
MAX_KEY_DEPTH = 32


class ApiError(Exception):
    """An error answered as ``{"error": code, "message": ...}`` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def bad(message: str, code: str = "bad_request") -> ApiError:
    return ApiError(400, code, message)


def one(params: dict[str, list[str]], name: str, default: str | None = None) -> str | None:
    values = params.get(name)
    return values[0] if values else default


def required(params: dict[str, list[str]], name: str, what: str) -> str:
    value = one(params, name)
    if value is None:
        raise bad(f"missing query parameter {name!r}: {what}", "missing_parameter")
    return value


def integer(params: dict[str, list[str]], name: str, default: int | None, low: int | None = None,
            high: int | None = None) -> int | None:
    text = one(params, name)
    if text is None:
        return default
    try:
        value = int(text.strip())
    except ValueError:
        raise bad(f"query parameter {name!r} must be an integer, got {text!r}") from None
    if low is not None and value < low:
        raise bad(f"query parameter {name!r} must be >= {low}, got {value}")
    if high is not None and value > high:
        raise bad(f"query parameter {name!r} must be <= {high}, got {value}")
    return value


def boolean(params: dict[str, list[str]], name: str) -> bool:
    text = (one(params, name) or "false").strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    raise bad(f"query parameter {name!r} must be true or false, got {text!r}")


def key_type_for(serde: Any) -> str:
    """The ``auto`` key type of a store from its key serde's name."""
    name = type(serde).__name__.lower() + " " + str(getattr(serde, "name", "")).lower()
    if "string" in name:
        return "string"
    if any(n in name for n in ("long", "integer", "short")):
        return "int"
    if any(n in name for n in ("double", "float")):
        return "float"
    if "bytes" in name:
        return "bytes"
    return "auto"  # JSON or custom serdes: JSON text, or a bare word as a string


def parse_key(text: str, key_type: str, what: str = "key") -> Any:
    """A key from its text form; a malformed one is a 400 naming the expected type."""
    if key_type == "string":
        return text
    if key_type == "bytes":
        try:
            return base64.b64decode(text, validate=True)
        except ValueError:
            raise bad(f"{what} {text!r} is not base64 (the store's keys are bytes)",
                      "malformed_key") from None
    if key_type == "int":
        try:
            return int(text.strip())
        except ValueError:
            raise bad(f"{what} {text!r} is not an integer (the store's keys are ints; pass "
                      "key_type=string if they are not)", "malformed_key") from None
    if key_type == "float":
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise bad(f"{what} {text!r} is not a finite number", "malformed_key")
        return value
    try:
        value = json.loads(text)
    except RecursionError:
        raise _too_deep(what) from None
    except ValueError:
        if key_type == "json":
            raise bad(f"{what} {_short(text)} is not valid JSON (key_type=json); quote "
                      "strings, e.g. \"kafka\"", "malformed_key") from None
        return text  # auto on a JSON store: a bare word is a string key
    return _hashable(value, what)


def _too_deep(what: str) -> ApiError:
    return bad(f"{what} nests JSON arrays deeper than {MAX_KEY_DEPTH} levels; a store key is "
               "a value or a short array of values", "malformed_key")


def _short(text: str) -> str:
    """``text`` quoted for an error message, cut to a readable length."""
    return repr(text) if len(text) <= 200 else repr(text[:200]) + f"... ({len(text)} chars)"


def _hashable(value: Any, what: str, depth: int = 0) -> Any:
    """JSON arrays become tuples (store keys must be hashable); objects are refused."""
    if isinstance(value, list):
        if depth >= MAX_KEY_DEPTH:
            raise _too_deep(what)
        return tuple(_hashable(v, what, depth + 1) for v in value)
    if isinstance(value, dict):
        raise bad(f"{what} must not be a JSON object (store keys are hashable values)",
                  "malformed_key")
    if isinstance(value, float) and not math.isfinite(value):
        raise bad(f"{what} must be a finite number", "malformed_key")
    return value


def key_type_param(params: dict[str, list[str]], auto: str) -> str:
    kind = (one(params, "key_type") or "auto").strip().lower()
    if kind not in KEY_TYPES:
        raise bad(f"key_type must be one of {list(KEY_TYPES)}, got {kind!r}")
    return auto if kind == "auto" else kind


def position_bound(params: dict[str, list[str]]) -> PositionBound:
    """``position={"topic": {"0": 42}}`` (JSON) -> PositionBound.at; absent -> unbounded."""
    text = one(params, "position")
    if text is None or not text.strip():
        return PositionBound.unbounded()
    try:
        return PositionBound.at(json.loads(text))
    except RecursionError:  # nested past the decoder's stack: no position looks like that
        reason = "nested far too deeply"
    except (ValueError, TypeError) as exc:
        reason = str(exc)
    raise bad(f"position must be JSON like {{\"topic\": {{\"0\": 42}}}} (topic -> partition "
              f"-> offset): {reason}", "malformed_position")
