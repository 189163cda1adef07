"""The records of a foreign-key join's two internal topics, and their serdes.

A left-table change travels to the right table's partition as a ``SubscriptionWrapper``
(keyed by the foreign key), the answer travels back as a ``SubscriptionResponseWrapper``
(keyed by the left key). The byte layouts follow Kafka's serializers, so the topics hold
what a Kafka Streams app would write with the same key/value serdes:

* subscription (version 1): ``version byte (| 0x80 when there is no hash) + instruction
  byte + [16-byte hash] + primary-key bytes + 4-byte primary partition``;
* response (version 0): ``version byte (| 0x80 when there is no hash) + [16-byte hash] +
  foreign-value bytes`` (no value bytes = the right row is missing);
* subscription-store key: ``4-byte length of the foreign-key bytes + foreign-key bytes +
  primary-key bytes`` (Kafka's ``CombinedKeySchema``); the store value is a subscription
  without its primary key (the key already holds it).
"""

from __future__ import annotations

import struct
from typing import Any

from ..errors import SerializationException
from ..serde import Serde, Serdes, serde_from_config

DELETE_KEY_NO_PROPAGATE = 0
DELETE_KEY_AND_PROPAGATE = 1
PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE = 2
PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE = 3
_INSTRUCTIONS = ("DELETE_KEY_NO_PROPAGATE", "DELETE_KEY_AND_PROPAGATE",
                 "PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE", "PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE")

SUBSCRIPTION_VERSION = 1
RESPONSE_VERSION = 0
_NO_HASH = 0x80
_INT = struct.Struct(">i")


class SubscriptionWrapper:
    """A left row's (un)subscription: what to do, the left value's hash, the left key and
    the partition the answer must go back to."""

    __slots__ = ("hash", "instruction", "primary_key", "primary_partition", "version")

    def __init__(self, hash: bytes | None, instruction: int, primary_key: Any,
                 primary_partition: int | None, version: int = SUBSCRIPTION_VERSION) -> None:
        self.hash = hash
        self.instruction = instruction
        self.primary_key = primary_key
        self.primary_partition = primary_partition
        self.version = version

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SubscriptionWrapper) and self.hash == other.hash
                and self.instruction == other.instruction
                and self.primary_key == other.primary_key
                and self.primary_partition == other.primary_partition
                and self.version == other.version)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"SubscriptionWrapper(version={self.version}, primary_key={self.primary_key!r}, "
                f"instruction={_INSTRUCTIONS[self.instruction]}, "
                f"hash={None if self.hash is None else self.hash.hex()}, "
                f"primary_partition={self.primary_partition})")


class SubscriptionResponseWrapper:
    """The right row's value (or None) for a subscription, with the hash it answers."""

    __slots__ = ("hash", "foreign_value", "primary_partition", "version")

    def __init__(self, hash: bytes | None, foreign_value: Any, primary_partition: int | None,
                 version: int = RESPONSE_VERSION) -> None:
        self.hash = hash
        self.foreign_value = foreign_value
        self.primary_partition = primary_partition  # routing only; not serialized
        self.version = version

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SubscriptionResponseWrapper) and self.hash == other.hash
                and self.foreign_value == other.foreign_value and self.version == other.version)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"SubscriptionResponseWrapper(version={self.version}, "
                f"hash={None if self.hash is None else self.hash.hex()}, "
                f"foreign_value={self.foreign_value!r})")


class DefaultKeySerde:
    """The app's default key serde, learnt when the join's tasks start.

    A subscription carries the left key inside a record VALUE, so the value-slot default the
    driver and runtime offer (``resolve(default value serde)``) is the wrong one. The join's
    nodes read ``default.key.serde`` from the task config at init, before any record moves.
    """

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.serde: Serde = Serdes.JSON()
        if config:
            self.bind(config)

    def bind(self, config: dict[str, Any]) -> None:
        value = config.get("default.key.serde")
        if value is not None:
            self.serde = serde_from_config(value, "default.key.serde")


def _bytes_of(serde: Any, topic: str | None, obj: Any, what: str) -> bytes:
    data = serde.serialize(topic, obj)
    if data is None:
        raise SerializationException(
            f"the {what} {obj!r} serialized to null; a foreign-key join needs non-null bytes "
            "for it (choose a serde that writes bytes for every value)"
        )
    return data


def _check_length(data: bytes, at_least: int, what: str) -> None:
    if len(data) < at_least:
        raise SerializationException(
            f"{what}: {len(data)} byte(s) is too short (needs at least {at_least}); the topic "
            "holds records another writer produced"
        )


class SubscriptionWrapperSerde(Serde):
    """Subscriptions on the registration topic; the primary key uses the left key serde."""

    name = "SubscriptionWrapper"

    def __init__(self, primary_key_serde: Any, default_key: DefaultKeySerde) -> None:
        super().__init__()
        self.primary_key_serde = primary_key_serde
        self.default_key = default_key

    def _pk_serde(self) -> Any:
        return self.primary_key_serde or self.default_key.serde

    def serialize(self, topic: str | None, obj: Any) -> bytes | None:
        if obj is None:
            return None
        if not isinstance(obj, SubscriptionWrapper):
            raise SerializationException(
                f"SubscriptionWrapper serde got {type(obj).__name__}; only the foreign-key "
                "join writes to its subscription topic"
            )
        pk = _bytes_of(self._pk_serde(), topic, obj.primary_key, "primary key")
        head = bytes((obj.version | (_NO_HASH if obj.hash is None else 0), obj.instruction))
        partition = _INT.pack(-1 if obj.primary_partition is None else obj.primary_partition)
        return head + (obj.hash or b"") + pk + partition

    def deserialize(self, topic: str | None, data: bytes | None) -> Any:
        if data is None:
            return None
        _check_length(data, 2, "subscription record")
        flags, instruction = data[0], data[1]
        version = flags & 0x7F
        if version > SUBSCRIPTION_VERSION:
            raise SerializationException(
                f"subscription record of version {version}; this streamnb reads up to "
                f"{SUBSCRIPTION_VERSION} (upgrade streamnb)"
            )
        if instruction > PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE:
            raise SerializationException(f"unknown subscription instruction byte {instruction}")
        start = 2
        hash_ = None
        if not flags & _NO_HASH:
            _check_length(data, 18, "subscription record")
            hash_, start = data[2:18], 18
        _check_length(data, start + (4 if version > 0 else 0), "subscription record")
        end = len(data) - 4 if version > 0 else len(data)
        pk = self._pk_serde().deserialize(topic, data[start:end])
        partition = _INT.unpack_from(data, end)[0] if version > 0 else None
        if partition is not None and partition < 0:
            partition = None
        return SubscriptionWrapper(hash_, instruction, pk, partition, version)


class SubscriptionResponseWrapperSerde(Serde):
    """Responses on the response topic; the foreign value uses the right table's serde."""

    name = "SubscriptionResponseWrapper"

    def __init__(self, foreign_value_serde: Any = None) -> None:
        super().__init__()
        self.foreign_value_serde = foreign_value_serde

    def resolve(self, default_serde: Any) -> SubscriptionResponseWrapperSerde:
        """This serde with the app's default value serde inside, if none was chosen."""
        if self.foreign_value_serde is not None:
            return self
        return SubscriptionResponseWrapperSerde(default_serde)

    def serialize(self, topic: str | None, obj: Any) -> bytes | None:
        if obj is None:
            return None
        if not isinstance(obj, SubscriptionResponseWrapper):
            raise SerializationException(
                f"SubscriptionResponseWrapper serde got {type(obj).__name__}; only the "
                "foreign-key join writes to its response topic"
            )
        value = b""
        if obj.foreign_value is not None:
            value = (self.foreign_value_serde or Serdes.JSON()).serialize(
                topic, obj.foreign_value) or b""
        if obj.hash is None:
            return bytes((obj.version | _NO_HASH,)) + value
        return bytes((obj.version,)) + obj.hash + value

    def deserialize(self, topic: str | None, data: bytes | None) -> Any:
        if data is None:
            return None
        _check_length(data, 1, "subscription response record")
        flags = data[0]
        version = flags & 0x7F
        if version != RESPONSE_VERSION:
            raise SerializationException(
                f"subscription response of version {version}; this streamnb reads version "
                f"{RESPONSE_VERSION}"
            )
        hash_, start = None, 1
        if not flags & _NO_HASH:
            _check_length(data, 17, "subscription response record")
            hash_, start = data[1:17], 17
        value = None
        if len(data) > start:
            value = (self.foreign_value_serde or Serdes.JSON()).deserialize(topic, data[start:])
        return SubscriptionResponseWrapper(hash_, value, None, version)


class CombinedKeySerde(Serde):
    """Subscription-store keys ``(foreign key, primary key)``: length-prefixed foreign-key
    bytes, then primary-key bytes, so one foreign key's subscriptions share a byte prefix."""

    name = "CombinedKey"

    def __init__(self, foreign_key_serde: Any = None, primary_key_serde: Any = None) -> None:
        super().__init__()
        self.foreign_key_serde = foreign_key_serde
        self.primary_key_serde = primary_key_serde

    def resolve(self, default_serde: Any) -> CombinedKeySerde:
        """Both halves are keys: the app's default key serde fills whichever is unset."""
        if self.foreign_key_serde is not None and self.primary_key_serde is not None:
            return self
        return CombinedKeySerde(self.foreign_key_serde or default_serde,
                                self.primary_key_serde or default_serde)

    def serialize(self, topic: str | None, obj: Any) -> bytes | None:
        if obj is None:
            return None
        fk, pk = obj
        fk_bytes = _bytes_of(self.foreign_key_serde or Serdes.JSON(), topic, fk, "foreign key")
        pk_bytes = _bytes_of(self.primary_key_serde or Serdes.JSON(), topic, pk, "primary key")
        return _INT.pack(len(fk_bytes)) + fk_bytes + pk_bytes

    def deserialize(self, topic: str | None, data: bytes | None) -> Any:
        if data is None:
            return None
        _check_length(data, 4, "subscription store key")
        size = _INT.unpack_from(data)[0]
        _check_length(data, 4 + size, "subscription store key")
        fk = (self.foreign_key_serde or Serdes.JSON()).deserialize(topic, data[4:4 + size])
        pk = (self.primary_key_serde or Serdes.JSON()).deserialize(topic, data[4 + size:])
        return (fk, pk)


class StoredSubscriptionSerde(Serde):
    """Subscription-store values: a subscription without its primary key (in the key)."""

    name = "StoredSubscription"

    def serialize(self, topic: str | None, obj: Any) -> bytes | None:
        if obj is None:
            return None
        head = bytes((obj.version | (_NO_HASH if obj.hash is None else 0), obj.instruction))
        partition = _INT.pack(-1 if obj.primary_partition is None else obj.primary_partition)
        return head + (obj.hash or b"") + partition

    def deserialize(self, topic: str | None, data: bytes | None) -> Any:
        if data is None:
            return None
        _check_length(data, 6, "subscription store value")
        flags, instruction = data[0], data[1]
        hash_ = None if flags & _NO_HASH else data[2:18]
        partition = _INT.unpack_from(data, len(data) - 4)[0]
        return SubscriptionWrapper(hash_, instruction, None, None if partition < 0 else partition,
                                   flags & 0x7F)
