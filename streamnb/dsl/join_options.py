"""Options of joins: ``StreamJoined`` (stream-stream), ``Joined`` (stream-table) and
``TableJoined`` (foreign-key table joins) - names and serdes, as in Kafka Streams."""

from __future__ import annotations

from typing import Any

from .._time import to_millis
from ..serde import serde_from_config
from ..state.builders import StoreSupplier
from ..topology._naming import validate_name


def _serde(value: Any, what: str) -> Any:
    return None if value is None else serde_from_config(value, what)


def _window_supplier(supplier: Any, side: str) -> StoreSupplier:
    if not isinstance(supplier, StoreSupplier) or supplier.kind != "window":
        raise TypeError(
            f"the {side} store supplier of a StreamJoined must be a window store supplier "
            "(Stores.in_memory_window_store / Stores.persistent_window_store with "
            f"retain_duplicates=True), got {supplier!r}"
        )
    return supplier


class StreamJoined:
    """Names and serdes of a stream-stream join.

    ``name`` names the join's processors (``<name>-this-join`` ...) and repartition topics
    (``<name>-left-repartition``); ``store_name`` names its window stores
    (``<store_name>-this-join-store`` ...). Without them Kafka's generated names are used.
    """

    def __init__(self, key_serde: Any = None, value_serde: Any = None,
                 other_value_serde: Any = None, name: str | None = None,
                 store_name: str | None = None, logging_enabled: bool = True) -> None:
        self.key_serde = _serde(key_serde, "key serde")
        self.value_serde = _serde(value_serde, "value serde")
        self.other_value_serde = _serde(other_value_serde, "other value serde")
        self.name = None if name is None else validate_name(name, "StreamJoined name")
        self.store_name = None if store_name is None else validate_name(store_name,
                                                                        "StreamJoined store name")
        self.logging_enabled = logging_enabled
        self.log_config: dict[str, str] = {}
        self.this_store_supplier: StoreSupplier | None = None
        self.other_store_supplier: StoreSupplier | None = None

    @staticmethod
    def with_(key_serde: Any = None, value_serde: Any = None, other_value_serde: Any = None
              ) -> StreamJoined:
        return StreamJoined(key_serde, value_serde, other_value_serde)

    @staticmethod
    def with_store_suppliers(this_store_supplier: StoreSupplier,
                             other_store_supplier: StoreSupplier) -> StreamJoined:
        """Kafka's ``StreamJoined.with(thisStoreSupplier, otherStoreSupplier)``: the two join
        window stores (e.g. ``Stores.persistent_window_store(name, size + grace, size,
        retain_duplicates=True)``)."""
        return (StreamJoined().with_this_store_supplier(this_store_supplier)
                .with_other_store_supplier(other_store_supplier))

    def with_this_store_supplier(self, supplier: StoreSupplier) -> StreamJoined:
        self.this_store_supplier = _window_supplier(supplier, "this")
        return self

    def with_other_store_supplier(self, supplier: StoreSupplier) -> StreamJoined:
        self.other_store_supplier = _window_supplier(supplier, "other")
        return self

    @staticmethod
    def as_(store_name: str) -> StreamJoined:
        return StreamJoined(store_name=store_name)

    def with_name(self, name: str) -> StreamJoined:
        self.name = validate_name(name, "StreamJoined name")
        return self

    def with_store_name(self, store_name: str) -> StreamJoined:
        self.store_name = validate_name(store_name, "StreamJoined store name")
        return self

    def with_key_serde(self, serde: Any) -> StreamJoined:
        self.key_serde = _serde(serde, "key serde")
        return self

    def with_value_serde(self, serde: Any) -> StreamJoined:
        self.value_serde = _serde(serde, "value serde")
        return self

    def with_other_value_serde(self, serde: Any) -> StreamJoined:
        self.other_value_serde = _serde(serde, "other value serde")
        return self

    def with_logging_disabled(self) -> StreamJoined:
        self.logging_enabled = False
        return self

    def with_logging_enabled(self, config: dict[str, str] | None = None) -> StreamJoined:
        """Log the join stores to changelog topics (the default), with extra topic configs."""
        self.logging_enabled = True
        self.log_config = {str(k): str(v) for k, v in (config or {}).items()}
        return self


class Joined:
    """Name and serdes of a stream-table join (the name also names its repartition topic)."""

    def __init__(self, key_serde: Any = None, value_serde: Any = None,
                 other_value_serde: Any = None, name: str | None = None,
                 grace_period: Any = None) -> None:
        self.key_serde = _serde(key_serde, "key serde")
        self.value_serde = _serde(value_serde, "value serde")
        self.other_value_serde = _serde(other_value_serde, "other value serde")
        self.name = None if name is None else validate_name(name, "Joined name")
        self.grace_ms = None if grace_period is None else to_millis(grace_period, "grace period")
        if self.grace_ms is not None and self.grace_ms < 0:
            raise ValueError(f"grace period must not be negative, got {self.grace_ms} ms")

    @staticmethod
    def with_(key_serde: Any = None, value_serde: Any = None, other_value_serde: Any = None,
              name: str | None = None, grace_period: Any = None) -> Joined:
        return Joined(key_serde, value_serde, other_value_serde, name, grace_period)

    @staticmethod
    def as_(name: str) -> Joined:
        return Joined(name=name)

    def with_name(self, name: str) -> Joined:
        self.name = validate_name(name, "Joined name")
        return self

    def with_grace_period(self, grace_period: Any) -> Joined:
        """Buffer stream records for ``grace_period`` (ms or timedelta) and join them in
        timestamp order, so table updates up to that late still count. The table must be
        versioned with a history retention of at least the grace period."""
        return Joined(self.key_serde, self.value_serde, self.other_value_serde, self.name,
                      grace_period)


class TableJoined:
    """Name of a foreign-key table join (and, in Kafka, its partitioners)."""

    def __init__(self, name: str | None = None) -> None:
        self.name = None if name is None else validate_name(name, "TableJoined name")

    @staticmethod
    def as_(name: str) -> TableJoined:
        return TableJoined(name)

    def with_name(self, name: str) -> TableJoined:
        self.name = validate_name(name, "TableJoined name")
        return self
