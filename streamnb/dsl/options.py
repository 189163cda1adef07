"""Options objects of the DSL: Named, Consumed, Produced, Grouped, Materialized, Branched,
Repartitioned - the ways Kafka lets a user name things and choose serdes and stores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._time import to_millis
from ..serde import serde_from_config
from ..topology._naming import validate_name

__all__ = [
    "Branched",
    "Consumed",
    "Grouped",
    "Materialized",
    "Named",
    "Produced",
    "Repartitioned",
]


def _serde(value: Any, what: str) -> Any:
    return None if value is None else serde_from_config(value, what)


class Named:
    """A name for the processor an operation adds (instead of ``KSTREAM-FILTER-0000000003``)."""

    def __init__(self, name: str | None) -> None:
        self.name = None if name is None else validate_name(name, "Named name")

    @staticmethod
    def as_(name: str) -> Named:
        if name is None:
            raise TypeError("name can't be null")
        return Named(name)

    def with_name(self, name: str) -> Named:
        return Named(name)

    def __repr__(self) -> str:
        return f"Named.as_({self.name!r})"


def named_name(named: Named | str | None) -> str | None:
    """The user's name from a ``Named``, a plain str, or ``None``."""
    if named is None:
        return None
    if isinstance(named, str):
        return validate_name(named, "Named name")
    if isinstance(named, Named):
        return named.name
    name = getattr(named, "name", None)
    if isinstance(name, str):  # Grouped, Produced, Consumed... carry a name too
        return validate_name(name, "name")
    raise TypeError(f"named must be a Named or a str, got {type(named).__name__}")


class Consumed:
    """How a source reads its topic: serdes, timestamp extractor, offset reset, node name."""

    def __init__(self, key_serde: Any = None, value_serde: Any = None,
                 timestamp_extractor: Callable[..., int] | None = None,
                 offset_reset: str | None = None, name: str | None = None) -> None:
        self.key_serde = _serde(key_serde, "key serde")
        self.value_serde = _serde(value_serde, "value serde")
        if timestamp_extractor is not None and not callable(timestamp_extractor):
            raise TypeError("timestamp_extractor must be a function (key, value, record_ts)")
        self.timestamp_extractor = timestamp_extractor
        if offset_reset not in (None, "earliest", "latest"):
            raise ValueError(f"offset_reset must be 'earliest' or 'latest', got {offset_reset!r}")
        self.offset_reset = offset_reset
        self.name = None if name is None else validate_name(name, "Consumed name")

    @staticmethod
    def with_(key_serde: Any = None, value_serde: Any = None, **kwargs: Any) -> Consumed:
        return Consumed(key_serde, value_serde, **kwargs)

    @staticmethod
    def as_(name: str) -> Consumed:
        return Consumed(name=name)

    def with_name(self, name: str) -> Consumed:
        self.name = validate_name(name, "Consumed name")
        return self

    def with_key_serde(self, serde: Any) -> Consumed:
        self.key_serde = _serde(serde, "key serde")
        return self

    def with_value_serde(self, serde: Any) -> Consumed:
        self.value_serde = _serde(serde, "value serde")
        return self

    def with_timestamp_extractor(self, extractor: Callable[..., int]) -> Consumed:
        self.timestamp_extractor = extractor
        return self

    def with_offset_reset_policy(self, policy: str) -> Consumed:
        self.offset_reset = policy
        return self


class Produced:
    """How a sink writes: serdes, partitioner, node name."""

    def __init__(self, key_serde: Any = None, value_serde: Any = None,
                 partitioner: Callable[..., int | None] | None = None,
                 name: str | None = None) -> None:
        self.key_serde = _serde(key_serde, "key serde")
        self.value_serde = _serde(value_serde, "value serde")
        if partitioner is not None and not callable(partitioner):
            raise TypeError("partitioner must be a function (topic, key, value, num_partitions)")
        self.partitioner = partitioner
        self.name = None if name is None else validate_name(name, "Produced name")

    @staticmethod
    def with_(key_serde: Any = None, value_serde: Any = None, **kwargs: Any) -> Produced:
        return Produced(key_serde, value_serde, **kwargs)

    @staticmethod
    def as_(name: str) -> Produced:
        return Produced(name=name)

    def with_name(self, name: str) -> Produced:
        self.name = validate_name(name, "Produced name")
        return self

    def with_key_serde(self, serde: Any) -> Produced:
        self.key_serde = _serde(serde, "key serde")
        return self

    def with_value_serde(self, serde: Any) -> Produced:
        self.value_serde = _serde(serde, "value serde")
        return self

    def with_stream_partitioner(self, partitioner: Callable[..., int | None]) -> Produced:
        self.partitioner = partitioner
        return self


class Grouped:
    """Serdes and a name for the repartition topic a grouping may need."""

    def __init__(self, name: str | None = None, key_serde: Any = None,
                 value_serde: Any = None) -> None:
        self.name = None if name is None else validate_name(name, "Grouped name")
        self.key_serde = _serde(key_serde, "key serde")
        self.value_serde = _serde(value_serde, "value serde")

    @staticmethod
    def as_(name: str) -> Grouped:
        return Grouped(name)

    @staticmethod
    def with_(key_serde: Any = None, value_serde: Any = None, name: str | None = None) -> Grouped:
        return Grouped(name, key_serde, value_serde)

    def with_name(self, name: str) -> Grouped:
        self.name = validate_name(name, "Grouped name")
        return self

    def with_key_serde(self, serde: Any) -> Grouped:
        self.key_serde = _serde(serde, "key serde")
        return self

    def with_value_serde(self, serde: Any) -> Grouped:
        self.value_serde = _serde(serde, "value serde")
        return self


class Repartitioned:
    """Name, partition count, serdes and partitioner of an explicit ``repartition()``."""

    def __init__(self, name: str | None = None, num_partitions: int | None = None,
                 key_serde: Any = None, value_serde: Any = None,
                 partitioner: Callable[..., int | None] | None = None) -> None:
        self.name = None if name is None else validate_name(name, "Repartitioned name")
        if num_partitions is not None and (
            isinstance(num_partitions, bool) or not isinstance(num_partitions, int)
            or num_partitions < 1
        ):
            raise ValueError(f"num_partitions must be a positive int, got {num_partitions!r}")
        self.num_partitions = num_partitions
        self.key_serde = _serde(key_serde, "key serde")
        self.value_serde = _serde(value_serde, "value serde")
        self.partitioner = partitioner

    @staticmethod
    def as_(name: str) -> Repartitioned:
        return Repartitioned(name)

    @staticmethod
    def with_(key_serde: Any = None, value_serde: Any = None) -> Repartitioned:
        return Repartitioned(key_serde=key_serde, value_serde=value_serde)

    @staticmethod
    def with_number_of_partitions(n: int) -> Repartitioned:
        return Repartitioned(num_partitions=n)

    def with_name(self, name: str) -> Repartitioned:
        self.name = validate_name(name, "Repartitioned name")
        return self

    def with_num_partitions(self, n: int) -> Repartitioned:
        return Repartitioned(self.name, n, self.key_serde, self.value_serde, self.partitioner)

    def with_stream_partitioner(self, partitioner: Callable[..., int | None]) -> Repartitioned:
        self.partitioner = partitioner
        return self


class Materialized:
    """Where an aggregation or table keeps its state: store name, type, serdes, logging.

    ``Materialized.as_("counts")`` names the store (queryable by that name);
    ``.with_versioned(history_retention)`` makes it a versioned key-value store.
    """

    def __init__(self, store_name: str | None = None, supplier: Any = None) -> None:
        self.store_name = None if store_name is None else validate_name(store_name, "store name")
        self.supplier = supplier
        self.key_serde: Any = None
        self.value_serde: Any = None
        self.logging_enabled = True
        self.logging_config: dict[str, str] = {}
        self.caching_enabled = True
        self.retention_ms: int | None = None
        self.store_type: str | None = None  # "in_memory" | "persistent" | None (config default)
        self.history_retention_ms: int | None = None  # set for versioned stores

    @staticmethod
    def as_(name_or_supplier: Any) -> Materialized:
        """Name the store, or give a store supplier from ``Stores``."""
        if isinstance(name_or_supplier, str):
            return Materialized(name_or_supplier)
        name = getattr(name_or_supplier, "name", None)
        if name is None or not hasattr(name_or_supplier, "get"):
            raise TypeError(
                "Materialized.as_ takes a store name (str) or a store supplier from Stores, got "
                f"{type(name_or_supplier).__name__}"
            )
        return Materialized(name, supplier=name_or_supplier)

    @staticmethod
    def with_(key_serde: Any = None, value_serde: Any = None) -> Materialized:
        m = Materialized()
        m.key_serde = _serde(key_serde, "key serde")
        m.value_serde = _serde(value_serde, "value serde")
        return m

    def with_key_serde(self, serde: Any) -> Materialized:
        self.key_serde = _serde(serde, "key serde")
        return self

    def with_value_serde(self, serde: Any) -> Materialized:
        self.value_serde = _serde(serde, "value serde")
        return self

    def with_logging_enabled(self, config: dict[str, str] | None = None) -> Materialized:
        self.logging_enabled = True
        self.logging_config = dict(config or {})
        return self

    def with_logging_disabled(self) -> Materialized:
        self.logging_enabled = False
        return self

    def with_caching_enabled(self) -> Materialized:
        self.caching_enabled = True
        return self

    def with_caching_disabled(self) -> Materialized:
        self.caching_enabled = False
        return self

    def with_retention(self, retention: Any) -> Materialized:
        """How long a window or session store keeps windows (>= window size + grace)."""
        millis = to_millis(retention, "retention")
        if millis < 0:
            raise ValueError(f"retention must not be negative, got {millis} ms")
        self.retention_ms = millis
        return self

    def with_store_type(self, store_type: str) -> Materialized:
        """``"in_memory"`` or ``"persistent"`` (sqlite); default: ``default.dsl.store``."""
        aliases = {"in_memory": "in_memory", "in-memory": "in_memory", "memory": "in_memory",
                   "persistent": "persistent", "rocksdb": "persistent", "sqlite": "persistent"}
        if not isinstance(store_type, str) or store_type.lower() not in aliases:
            raise ValueError(
                f"store type must be 'in_memory' or 'persistent', got {store_type!r}"
            )
        self.store_type = aliases[store_type.lower()]
        return self

    def with_versioned(self, history_retention: Any) -> Materialized:
        """Keep every version of each key for ``history_retention`` (ms or timedelta)."""
        millis = to_millis(history_retention, "history retention")
        if millis < 0:
            raise ValueError(f"history retention must not be negative, got {millis} ms")
        self.history_retention_ms = millis
        return self

    @property
    def is_versioned(self) -> bool:
        return self.history_retention_ms is not None or (
            self.supplier is not None and getattr(self.supplier, "kind", "") == "versioned"
        )

    def __repr__(self) -> str:
        return f"Materialized.as_({self.store_name!r})"


def as_materialized(value: Materialized | str | None) -> Materialized | None:
    """Accept ``materialized=`` as a ``Materialized``, a store name, or ``None``."""
    if value is None or isinstance(value, Materialized):
        return value
    if isinstance(value, str):
        return Materialized.as_(value)
    raise TypeError(
        f"materialized must be a store name (str) or Materialized.as_(...), got "
        f"{type(value).__name__}"
    )


class Branched:
    """Name of a branch of ``split()``, and optionally a function applied to it."""

    def __init__(self, name: str | None = None, function: Callable[[Any], Any] | None = None,
                 consumer: Callable[[Any], None] | None = None) -> None:
        self.name = None if name is None else validate_name(name, "Branched name")
        for fn, label in ((function, "function"), (consumer, "consumer")):
            if fn is not None and not callable(fn):
                raise TypeError(f"Branched {label} must be callable, got {type(fn).__name__}")
        self.function = function
        self.consumer = consumer

    @staticmethod
    def as_(name: str) -> Branched:
        return Branched(name)

    @staticmethod
    def with_function(function: Callable[[Any], Any], name: str | None = None) -> Branched:
        return Branched(name, function=function)

    @staticmethod
    def with_consumer(consumer: Callable[[Any], None], name: str | None = None) -> Branched:
        return Branched(name, consumer=consumer)
