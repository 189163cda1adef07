"""Options of joins: ``StreamJoined`` (stream-stream), ``Joined`` (stream-table) and
``TableJoined`` (foreign-key table joins) - names and serdes, as in Kafka Streams."""

from __future__ import annotations

from typing import Any

from .._time import to_millis
from ..serde import serde_from_config
from ..topology._naming import validate_name


def _serde(value: Any, what: str) -> Any:
    return None if value is None else serde_from_config(value, what)


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

    @staticmethod
    def with_(key_serde: Any = None, value_serde: Any = None, other_value_serde: Any = None
              ) -> StreamJoined:
        return StreamJoined(key_serde, value_serde, other_value_serde)

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

    def with_logging_enabled(self) -> StreamJoined:
        self.logging_enabled = True
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
              name: str | None = None) -> Joined:
        return Joined(key_serde, value_serde, other_value_serde, name)

    @staticmethod
    def as_(name: str) -> Joined:
        return Joined(name=name)

    def with_name(self, name: str) -> Joined:
        self.name = validate_name(name, "Joined name")
        return self

    def with_grace_period(self, grace_period: Any) -> Joined:
        """Kafka buffers stream records for this long before joining them with a versioned
        table; streamnb does not support the buffer yet (see ``KStream.join``)."""
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
