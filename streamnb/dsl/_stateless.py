"""Engine nodes of the stateless KStream operators: one small class per operator.

Each ``process`` does the operator's work and calls ``self.forward`` directly: no record
objects, no per-record dispatch. Functions are normalised to (key, value) at build time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..engine.node import Node

Fn = Callable[..., Any]


class FilterNode(Node):
    def __init__(self, predicate: Fn, negate: bool = False) -> None:
        super().__init__()
        self.predicate = predicate
        self.negate = negate

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        predicate, forward = self.predicate, self.forward
        # Closures over locals: the hot path reads no attributes.
        if self.negate:
            def process(key: Any, value: Any) -> None:
                if not predicate(key, value):
                    forward(key, value)
        else:
            def process(key: Any, value: Any) -> None:
                if predicate(key, value):
                    forward(key, value)
        self.process = process  # type: ignore[method-assign]

    def process(self, key: Any, value: Any) -> None:  # replaced at init
        if bool(self.predicate(key, value)) != self.negate:
            self.forward(key, value)


class MapNode(Node):
    """``map``: fn(key, value) -> (new_key, new_value)."""

    def __init__(self, mapper: Fn) -> None:
        super().__init__()
        self.mapper = mapper

    def process(self, key: Any, value: Any) -> None:
        result = self.mapper(key, value)
        try:
            new_key, new_value = result
        except (TypeError, ValueError):
            if result is None:
                raise TypeError(
                    "The provided KeyValueMapper returned null which is not allowed. "
                    f"(map function of {self.name}: return a (key, value) pair)"
                ) from None
            raise TypeError(
                f"map function of {self.name} must return a (key, value) pair, got {result!r}"
            ) from None
        self.forward(new_key, new_value)


class MapValuesNode(Node):
    def __init__(self, mapper: Fn, with_key: bool) -> None:
        super().__init__()
        self.mapper = mapper
        self.with_key = with_key

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        mapper, forward = self.mapper, self.forward
        if self.with_key:
            def process(key: Any, value: Any) -> None:
                forward(key, mapper(key, value))
        else:
            def process(key: Any, value: Any) -> None:
                forward(key, mapper(value))
        self.process = process  # type: ignore[method-assign]

    def process(self, key: Any, value: Any) -> None:  # replaced at init
        if self.with_key:
            self.forward(key, self.mapper(key, value))
        else:
            self.forward(key, self.mapper(value))


class FlatMapNode(Node):
    """``flat_map``: fn(key, value) -> iterable of (key, value)."""

    def __init__(self, mapper: Fn) -> None:
        super().__init__()
        self.mapper = mapper

    def process(self, key: Any, value: Any) -> None:
        result = self.mapper(key, value)
        if result is None:
            raise TypeError(
                f"flat_map function of {self.name} returned None; return an iterable of "
                "(key, value) pairs (an empty list to drop the record)"
            )
        forward = self.forward
        for pair in result:
            try:
                new_key, new_value = pair
            except (TypeError, ValueError):
                raise TypeError(
                    f"flat_map function of {self.name} must yield (key, value) pairs, "
                    f"got {pair!r}"
                ) from None
            forward(new_key, new_value)


class FlatMapValuesNode(Node):
    def __init__(self, mapper: Fn, with_key: bool) -> None:
        super().__init__()
        self.mapper = mapper
        self.with_key = with_key

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        mapper, forward, check = self.mapper, self.forward, self._check
        if self.with_key:
            def process(key: Any, value: Any) -> None:
                result = mapper(key, value)
                if result is None or isinstance(result, (str, bytes)):
                    check(result)
                for item in result:
                    forward(key, item)
        else:
            def process(key: Any, value: Any) -> None:
                result = mapper(value)
                if result is None or isinstance(result, (str, bytes)):
                    check(result)
                for item in result:
                    forward(key, item)
        self.process = process  # type: ignore[method-assign]

    def _check(self, result: Any) -> Any:
        if result is None or isinstance(result, (str, bytes)):
            raise TypeError(
                f"flat_map_values function of {self.name} must return an iterable of values "
                f"(e.g. a list), got {type(result).__name__} {result!r}"
            )
        return result

    def process(self, key: Any, value: Any) -> None:  # replaced at init
        result = self.mapper(key, value) if self.with_key else self.mapper(value)
        self._check(result)
        for item in result:
            self.forward(key, item)


class SelectKeyNode(Node):
    def __init__(self, selector: Fn) -> None:
        super().__init__()
        self.selector = selector

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        selector, forward = self.selector, self.forward

        def process(key: Any, value: Any) -> None:
            forward(selector(key, value), value)

        self.process = process  # type: ignore[method-assign]

    def process(self, key: Any, value: Any) -> None:  # replaced at init
        self.forward(self.selector(key, value), value)


class PeekNode(Node):
    """``peek`` (forwards) and ``foreach`` (terminal: it has no children)."""

    def __init__(self, action: Fn) -> None:
        super().__init__()
        self.action = action

    def process(self, key: Any, value: Any) -> None:
        self.action(key, value)
        self.forward(key, value)


class PassThroughNode(Node):
    """Merge points and branch children: forwards unchanged."""

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        self.process = self.forward  # type: ignore[method-assign]

    def process(self, key: Any, value: Any) -> None:  # replaced at init
        self.forward(key, value)


class BranchNode(Node):
    """``split``/``branch``: each record goes to the first branch whose predicate matches."""

    def __init__(self, predicates: list[Fn | None], child_names: list[str]) -> None:
        super().__init__()
        self.predicates = predicates  # None = the default branch (matches everything)
        self.child_names = child_names

    def init(self, ctx: Any) -> None:
        super().init(ctx)
        by_name = {child.name: child for child in self.children}
        self._routes = [
            (pred, by_name[name].process if name in by_name else None)
            for pred, name in zip(self.predicates, self.child_names)
        ]

    def process(self, key: Any, value: Any) -> None:
        for predicate, target in self._routes:
            if predicate is None or predicate(key, value):
                if target is not None:
                    target(key, value)
                return
