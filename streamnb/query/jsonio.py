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


_NATIVE_SCALARS = frozenset({str, int, bool, type(None)})


def _native(obj: Any) -> bool:
    """True when ``json`` writes ``obj`` exactly as ``_plain`` would have made it: only
    exact str/int/bool/None, finite floats, lists, tuples and dicts with str keys (so no
    copy through ``_plain`` is needed; a bool or None dict key would differ)."""
    kind = type(obj)
    if kind in _NATIVE_SCALARS:
        return True
    if kind is float:
        return math.isfinite(obj)
    if kind is dict:
        for key, value in obj.items():  # noqa: SIM110 - faster than all(genexpr)
            if type(key) is not str or not _native(value):
                return False
        return True
    if kind is list or kind is tuple:
        for value in obj:  # noqa: SIM110 - as above
            if not _native(value):
                return False
        return True
    return False


def _refuse(obj: Any) -> Any:
    raise TypeError(f"{type(obj).__name__} is not JSON")


# The C encoder made once: json.dumps makes one per call, which costs more than the
# encoding of a small body. None where the C accelerator is missing.
_make = getattr(json.encoder, "c_make_encoder", None)
_encode = None if _make is None else _make(
    None, _refuse, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, False)


def dumps(obj: Any) -> bytes:
    if _encode is not None and _native(obj):
        return "".join(_encode(obj, 0)).encode()
    return json.dumps(_plain(obj), allow_nan=False, separators=(",", ":")).encode()
