"""JSON bodies of the REST API: any store value becomes valid JSON, never a 500."""

from __future__ import annotations

import base64
import json
import math
from typing import Any


def _plain(obj: Any) -> Any:
    """Values JSON cannot hold natively: bytes (utf-8 or base64), sets, windows, NaN..."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else str(obj)
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    if isinstance(obj, bytes):
        try:
            return obj.decode("utf-8")
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(obj).decode()}
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [_plain(v) for v in obj]
    window = getattr(obj, "window", None)
    if window is not None and hasattr(obj, "key"):
        return {"key": _plain(obj.key), "window_start": window.start, "window_end": window.end}
    if hasattr(obj, "_asdict"):
        return _plain(obj._asdict())
    return repr(obj)


def dumps(obj: Any) -> bytes:
    return json.dumps(_plain(obj), allow_nan=False, separators=(",", ":")).encode()
