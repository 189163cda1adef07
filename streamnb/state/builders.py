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

    # -- window and session stores ------------------------------------------------------------
    @staticmethod
    def in_memory_window_store(name: str, retention_period: Any, window_size: Any,
                               retain_duplicates: bool = False) -> StoreSupplier:
        """Windows kept in memory for ``retention_period`` (>= ``window_size``)."""
        return _window_supplier(name, retention_period, window_size, retain_duplicates, False)

    @staticmethod
    def persistent_window_store(name: str, retention_period: Any, window_size: Any,
                                retain_duplicates: bool = False) -> StoreSupplier:
        """Windows kept on disk (sqlite segment files) for ``retention_period``."""
        return _window_supplier(name, retention_period, window_size, retain_duplicates, True)

    @staticmethod
    def persistent_timestamped_window_store(name: str, retention_period: Any, window_size: Any,
                                            retain_duplicates: bool = False) -> StoreSupplier:
        """Same as ``persistent_window_store``; pair it with a timestamped builder."""
        return _window_supplier(name, retention_period, window_size, retain_duplicates, True)

    @staticmethod
    def window_store_builder(supplier: StoreSupplier, key_serde: Any = None,
                             value_serde: Any = None) -> StoreBuilder:
        """A builder for a window store (the supplier must be a window one)."""
        return StoreBuilder(_check_kind(supplier, "window"), key_serde, value_serde)

    @staticmethod
    def timestamped_window_store_builder(supplier: StoreSupplier, key_serde: Any = None,
                                         value_serde: Any = None) -> StoreBuilder:
        """A window store of ``(value, timestamp)`` values, as DSL windowed aggregations use."""
        return StoreBuilder(_check_kind(supplier, "window"), key_serde, value_serde,
                            timestamped=True)

    @staticmethod
    def in_memory_session_store(name: str, retention_period: Any) -> StoreSupplier:
        """Sessions kept in memory for ``retention_period``."""
        return _session_supplier(name, retention_period, False)

    @staticmethod
    def persistent_session_store(name: str, retention_period: Any) -> StoreSupplier:
        """Sessions kept on disk (sqlite segment files) for ``retention_period``."""
        return _session_supplier(name, retention_period, True)

    @staticmethod
    def session_store_builder(supplier: StoreSupplier, key_serde: Any = None,
                              value_serde: Any = None) -> StoreBuilder:
        """A builder for a session store (the supplier must be a session one)."""
        return StoreBuilder(_check_kind(supplier, "session"), key_serde, value_serde)

    # -- versioned key-value stores -----------------------------------------------------------
    @staticmethod
    def persistent_versioned_key_value_store(
        name: str, history_retention: Any, segment_interval: Any = None
    ) -> StoreSupplier:
        """A versioned key-value store on disk: every version of a key for
        ``history_retention`` (ms or timedelta), readable ``as of`` a timestamp."""
        return _versioned_supplier(name, history_retention, segment_interval, persistent=True)

    @staticmethod
    def in_memory_versioned_key_value_store(
        name: str, history_retention: Any, segment_interval: Any = None
    ) -> StoreSupplier:
        """The in-memory variant of ``persistent_versioned_key_value_store``."""
        return _versioned_supplier(name, history_retention, segment_interval, persistent=False)

    @staticmethod
    def versioned_key_value_store_builder(
        supplier: StoreSupplier, key_serde: Any = None, value_serde: Any = None
    ) -> StoreBuilder:
        """A builder for a versioned store (the supplier must be a versioned one)."""
        if not isinstance(supplier, StoreSupplier) or supplier.kind != "versioned":
            raise TypeError(
                "versioned_key_value_store_builder needs a versioned store supplier, e.g. "
                "Stores.persistent_versioned_key_value_store(name, history_retention), got "
                f"{supplier!r}"
            )
        builder = StoreBuilder(supplier, key_serde, value_serde, timestamped=True)
        builder.caching_enabled = False  # Kafka's versioned stores have no cache
        return builder


def _versioned_supplier(name: str, history_retention: Any, segment_interval: Any,
                        persistent: bool) -> StoreSupplier:
    from .._time import to_millis
    from .versioned import InMemoryVersionedKeyValueStore, PersistentVersionedKeyValueStore

    name = _check_name(name)
    retention = to_millis(history_retention, "history retention")
    if retention < 0:
        raise ValueError(f"history retention must not be negative, got {retention} ms")
    segment = None if segment_interval is None else to_millis(segment_interval,
                                                                 "segment interval")
    if segment is not None and segment < 1:
        raise ValueError(f"segment interval must be positive, got {segment} ms")
    cls = PersistentVersionedKeyValueStore if persistent else InMemoryVersionedKeyValueStore
    return StoreSupplier(name, "versioned", lambda: cls(name, retention, segment),
                         persistent=persistent, history_retention_ms=retention)


def versioned_store_builder(name: str, materialized: Any, key_serde: Any,
                            value_serde: Any) -> StoreBuilder:
    """The builder behind ``Materialized.as_(name).with_versioned(history_retention)`` (or a
    versioned supplier in ``Materialized.as_``) for a DSL table."""
    supplier = materialized.supplier
    if supplier is None:
        # As the project's other DSL stores: in memory unless asked for "persistent".
        persistent = materialized.store_type == "persistent"
        supplier = _versioned_supplier(name, materialized.history_retention_ms, None,
                                       persistent=persistent)
    if materialized.key_serde is not None:
        key_serde = materialized.key_serde
    if materialized.value_serde is not None:
        value_serde = materialized.value_serde
    builder = Stores.versioned_key_value_store_builder(supplier, key_serde, value_serde)
    if not materialized.logging_enabled:
        builder.with_logging_disabled()
    else:
        builder.with_logging_enabled(materialized.logging_config)
    return builder


def _check_kind(supplier: Any, kind: str) -> StoreSupplier:
    if not isinstance(supplier, StoreSupplier) or supplier.kind != kind:
        raise TypeError(
            f"a {kind} store builder needs a {kind} store supplier, e.g. "
            f"Stores.in_memory_{kind}_store(...), got {supplier!r}"
        )
    return supplier


def _window_supplier(name: str, retention_period: Any, window_size: Any,
                     retain_duplicates: bool, persistent: bool) -> StoreSupplier:
    from .._time import to_millis
    from .window import InMemoryWindowStore, PersistentWindowStore

    name = _check_name(name)
    retention = to_millis(retention_period, "retention period")
    size = to_millis(window_size, "window size")
    if retention < 0:
        raise ValueError(f"retentionPeriod cannot be negative, got {retention} ms")
    if size < 0:
        raise ValueError(f"windowSize cannot be negative, got {size} ms")
    if size > retention:
        raise ValueError(
            f"The retention period of the window store {name} must be no smaller than its "
            f"window size. Got size=[{size}], retention=[{retention}]"
        )
    cls = PersistentWindowStore if persistent else InMemoryWindowStore
    return StoreSupplier(name, "window",
                         lambda: cls(name, retention, size, retain_duplicates),
                         persistent=persistent, retention_ms=retention, window_size_ms=size,
                         retain_duplicates=retain_duplicates)


def _session_supplier(name: str, retention_period: Any, persistent: bool) -> StoreSupplier:
    from .._time import to_millis
    from .session import InMemorySessionStore, PersistentSessionStore

    name = _check_name(name)
    retention = to_millis(retention_period, "retention period")
    if retention < 0:
        raise ValueError(f"retentionPeriod cannot be negative, got {retention} ms")
    cls = PersistentSessionStore if persistent else InMemorySessionStore
    return StoreSupplier(name, "session", lambda: cls(name, retention),
                         persistent=persistent, retention_ms=retention)
