"""What every state store shares: a name, a lifecycle, and how keys are ordered."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import InvalidStateStoreException
from ..processor import KeyValue

ChangeLogger = Callable[[Any, Any], None]


class ValueAndTimestamp(NamedTuple):
    """A value with the timestamp of the record that last set it (Kafka's timestamped stores)."""

    value: Any
    timestamp: int

    @staticmethod
    def make(value: Any, timestamp: int) -> ValueAndTimestamp | None:
        """``None`` for a None value, as Kafka's ``ValueAndTimestamp.make``."""
        return None if value is None else ValueAndTimestamp(value, timestamp)


class StateStore:
    """Base of all stores. The engine calls ``init`` before use and ``flush`` at commit.

    ``persistent`` stores keep their data in ``directory`` (``state.dir/<app>/<task>/<name>``);
    in-memory stores are rebuilt from the changelog when a task moves.
    """

    persistent = False
    #: "key_value", "window", "session" or "versioned": what the driver's getters check.
    kind = "key_value"

    def __init__(self, name: str) -> None:
        self.name = name
        self.directory: Path | None = None
        self._open = False
        # Called with (key, value) after every write; the engine wires it to the changelog.
        self._change_logger: ChangeLogger | None = None

    def init(self, directory: Path | None = None) -> None:
        """Open the store; persistent stores create ``directory`` and keep their files there."""
        self.directory = directory
        self._open = True

    @property
    def is_open(self) -> bool:
        return self._open

    def flush(self) -> None:
        """Make every write durable (persistent stores) - called at each commit."""

    def close(self) -> None:
        self.flush()
        self._open = False

    def _check_open(self) -> None:
        if not self._open:
            raise InvalidStateStoreException(
                f"state store {self.name!r} is not open (it was closed, or its task has not "
                "started); query it while the app or test driver is running"
            )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def sort_key(key: Any) -> Any:
    """An ordering over keys that never raises on mixed types.

    Keys of one type sort naturally; keys of different types group by type name. Kafka orders
    by serialized bytes; for the common cases (str, int, tuples of them) the natural order is
    what a Python user expects from ``range``.
    """
    return (type(key).__name__, key)


def sorted_items(items: Iterable[tuple[Any, Any]], reverse: bool = False) -> list[tuple[Any, Any]]:
    items = list(items)
    try:
        items.sort(key=lambda kv: kv[0], reverse=reverse)
    except TypeError:
        try:
            items.sort(key=lambda kv: sort_key(kv[0]), reverse=reverse)
        except TypeError:
            # Same-type keys that still do not compare (tuples of mixed element types,
            # objects without ordering): type name, then repr - a total order, never a crash.
            items.sort(key=lambda kv: (type(kv[0]).__name__, repr(kv[0])), reverse=reverse)
    return items


def in_range(key: Any, lo: Any, hi: Any) -> bool:
    """``lo <= key <= hi`` with ``None`` meaning unbounded; keys of another type are outside."""
    try:
        if lo is not None and key < lo:
            return False
        if hi is not None and key > hi:
            return False
    except TypeError:
        return False
    return True


def has_prefix(key: Any, prefix: Any) -> bool:
    """Prefix match for str, bytes and tuple keys."""
    if isinstance(key, (str, bytes, tuple)) and type(key) is type(prefix):
        return key[: len(prefix)] == prefix
    return False


class ClosedStoreData:
    """Stands in for a closed store's data, so that any use raises a clear error without an
    "is it open" check on every get and put."""

    __slots__ = ("_store",)

    def __init__(self, store: StateStore) -> None:
        self._store = store

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise InvalidStateStoreException(
            f"state store {self._store.name!r} is not open (it was closed, or its task has not "
            "started); query it while the app or test driver is running"
        )

    get = pop = items = keys = values = _fail
    __getitem__ = __setitem__ = __delitem__ = __contains__ = __len__ = __iter__ = _fail


class KeyValueIterator(Iterator[KeyValue]):
    """Iterator of ``KeyValue`` pairs that can be closed (as Kafka's must be)."""

    def __init__(self, pairs: Iterable[tuple[Any, Any]]) -> None:
        self._it = iter(pairs)

    def __next__(self) -> KeyValue:
        key, value = next(self._it)
        return KeyValue(key, value)

    def peek_next_key(self) -> Any:
        pair = next(self._it)
        self._it = _chain_one(pair, self._it)
        return pair[0]

    def close(self) -> None:
        self._it = iter(())

    def __enter__(self) -> KeyValueIterator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _chain_one(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest
