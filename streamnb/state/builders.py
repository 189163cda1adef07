"""Store suppliers and builders: the ``Stores`` factory of Kafka Streams, in Python.

A supplier says what kind of store to make (in memory or persistent); a builder adds the
options around it (serdes, change logging, caching). The engine builds one store per task
from each builder, so builders hold no data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..serde import Serde, serde_from_config
from ._base import StateStore

__all__ = ["StoreBuilder", "StoreSupplier", "Stores"]


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise TypeError(f"store name must be a non-empty str, got {name!r}")
    return name


class StoreSupplier:
    """Makes fresh stores of one kind under one name."""

    def __init__(
        self,
        name: str,
        kind: str,
        factory: Callable[[], StateStore],
        persistent: bool,
        **params: Any,
    ) -> None:
        self.name = _check_name(name)
        self.kind = kind  # "key_value", "window", "session" or "versioned"
        self.persistent = persistent
        self.params = params
        self._factory = factory

    def get(self) -> StateStore:
        return self._factory()

    def __repr__(self) -> str:
        where = "persistent" if self.persistent else "in-memory"
        return f"<{where} {self.kind} store supplier {self.name!r}>"


class StoreBuilder:
    """A supplier plus options; ``build()`` makes one store instance.

    Logging and caching are on by default, as in Kafka. ``timestamped`` stores keep
    ``(value, timestamp)`` pairs, as the DSL's aggregations and tables do.
    """

    def __init__(
        self,
        supplier: StoreSupplier,
        key_serde: Any = None,
        value_serde: Any = None,
        timestamped: bool = False,
    ) -> None:
        if not isinstance(supplier, StoreSupplier):
            raise TypeError(
                "StoreBuilder needs a store supplier from Stores (for example "
                f"Stores.in_memory_key_value_store(name)), got {type(supplier).__name__}"
            )
        self.supplier = supplier
        self.key_serde: Serde | None = None if key_serde is None else serde_from_config(key_serde)
        self.value_serde: Serde | None = (
            None if value_serde is None else serde_from_config(value_serde)
        )
        self.timestamped = timestamped
        self.logging_enabled = True
        self.logging_config: dict[str, str] = {}
        self.caching_enabled = True

    @property
    def name(self) -> str:
        return self.supplier.name

    @property
    def kind(self) -> str:
        return self.supplier.kind

    @property
    def persistent(self) -> bool:
        return self.supplier.persistent

    def with_logging_enabled(self, config: dict[str, str] | None = None) -> StoreBuilder:
        """Back the store with a compacted changelog topic (the default)."""
        self.logging_enabled = True
        self.logging_config = dict(config or {})
        return self

    def with_logging_disabled(self) -> StoreBuilder:
        """No changelog: the store's content is lost when its task moves."""
        self.logging_enabled = False
        return self

    def with_caching_enabled(self) -> StoreBuilder:
        self.caching_enabled = True
        return self

    def with_caching_disabled(self) -> StoreBuilder:
        self.caching_enabled = False
        return self

    def build(self) -> StateStore:
        store = self.supplier.get()
        store.name = self.name
        return store

    def __repr__(self) -> str:
        return f"StoreBuilder({self.supplier!r}, timestamped={self.timestamped})"


def _in_memory_kv(name: str) -> StateStore:
    from .memory import InMemoryKeyValueStore

    return InMemoryKeyValueStore(name)


def _persistent_kv(name: str) -> StateStore:
    from .persistent import PersistentKeyValueStore

    return PersistentKeyValueStore(name)


class Stores:
    """Factory of store suppliers and builders, shaped like Kafka's ``Stores``."""

    @staticmethod
    def in_memory_key_value_store(name: str) -> StoreSupplier:
        """A key-value store held in memory (restored from its changelog on a new owner)."""
        name = _check_name(name)
        return StoreSupplier(name, "key_value", lambda: _in_memory_kv(name), persistent=False)

    @staticmethod
    def persistent_key_value_store(name: str) -> StoreSupplier:
        """A key-value store kept on disk (sqlite through sqlitedict, write-back cached)."""
        name = _check_name(name)
        return StoreSupplier(name, "key_value", lambda: _persistent_kv(name), persistent=True)

    @staticmethod
    def persistent_timestamped_key_value_store(name: str) -> StoreSupplier:
        """Same as ``persistent_key_value_store``; pair it with a timestamped builder."""
        return Stores.persistent_key_value_store(name)

    @staticmethod
    def key_value_store_builder(
        supplier: StoreSupplier, key_serde: Any = None, value_serde: Any = None
    ) -> StoreBuilder:
        """A builder for a plain key-value store."""
        return StoreBuilder(supplier, key_serde, value_serde, timestamped=False)

    @staticmethod
    def timestamped_key_value_store_builder(
        supplier: StoreSupplier, key_serde: Any = None, value_serde: Any = None
    ) -> StoreBuilder:
        """A builder for a store of ``ValueAndTimestamp`` values, as DSL tables use."""
        return StoreBuilder(supplier, key_serde, value_serde, timestamped=True)
