"""State stores: key-value (and, with windows, window/session/versioned) stores."""

from ._base import KeyValueIterator, StateStore
from .builders import StoreBuilder, Stores, StoreSupplier
from .memory import InMemoryKeyValueStore

__all__ = [
    "InMemoryKeyValueStore",
    "KeyValueIterator",
    "StateStore",
    "StoreBuilder",
    "StoreSupplier",
    "Stores",
]
