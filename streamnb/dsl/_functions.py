"""Checks on user functions, so that a wrong lambda fails where it is passed, not mid-stream."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any


def check_function(fn: Any, what: str, arities: tuple[int, ...], shape: str) -> int:
    """Raise a clear ``TypeError`` unless ``fn`` is callable with one of ``arities`` positional
    arguments; return the first arity it accepts. ``shape`` names the expected call, e.g.
    ``"(key, value)"``.
    """
    if not callable(fn):
        raise TypeError(f"{what} must be a function {shape}, got {type(fn).__name__} {fn!r}")
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have no signature: trust the caller
        return arities[0]
    for arity in arities:
        try:
            signature.bind(*range(arity))
        except TypeError:
            continue
        return arity
    wanted = " or ".join(str(a) for a in arities)
    raise TypeError(
        f"{what} must take {shape} ({wanted} positional argument(s)), but "
        f"{getattr(fn, '__name__', fn)!r} has signature {signature}"
    )


def value_only(fn: Callable[..., Any], what: str, shape: str = "(value)") -> Callable[..., Any]:
    """A function of (key, value) from one given as fn(value) or fn(key, value)."""
    if check_function(fn, what, (1, 2), f"{shape} or (key, value)") == 1:
        return lambda key, value: fn(value)
    return fn


def arity_of_value_fn(fn: Callable[..., Any], what: str) -> int:
    """1 for ``fn(value)``, 2 for ``fn(key, value)`` (Kafka's ValueMapperWithKey)."""
    return check_function(fn, what, (1, 2), "(value) or (key, value)")
