"""What the DSL objects share while a topology is being built: the topology, the name
counter, the config, and the helpers that add nodes, stores and repartition topics."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ..errors import TopologyException
from ..serde import Serdes, serde_from_config
from ..state.builders import StoreBuilder, Stores
from ..topology._naming import NameGenerator, validate_name
from ..topology.topology import ProcessorSpec, SinkSpec, SourceSpec, Topology
from .options import Materialized

REPARTITION_SUFFIX = "-repartition"
_GENERATED = re.compile(r"KSTREAM.*-[0-9]{10}")


class _ChangeSerde:
    """Serde of a table change ``(new, old)`` on a repartition topic: one side plus a flag.

    After ``KTable.group_by`` each change carries either a new or an old value, never both.
    """

    def __init__(self, inner: Any = None) -> None:
        self.inner = inner
        self.name = f"Change<{getattr(inner, 'name', 'default')}>"

    def resolve(self, default_serde: Any) -> _ChangeSerde:
        """This serde with the app's default (value) serde inside, if none was chosen."""
        return self if self.inner is not None else _ChangeSerde(default_serde)

    def serialize(self, topic: str | None, change: Any) -> bytes | None:
        if change is None:
            return None
        new, old = change
        new_bytes = None if new is None else self.inner.serialize(topic, new)
        old_bytes = None if old is None else self.inner.serialize(topic, old)
        if old_bytes is None:
            return (new_bytes or b"") + b"\x01"
        if new_bytes is None:
            return old_bytes + b"\x00"
        return len(new_bytes).to_bytes(4, "big") + new_bytes + old_bytes + b"\x02"

    def deserialize(self, topic: str | None, data: bytes | None) -> Any:
        if data is None:
            return None
        flag, body = data[-1:], data[:-1]
        if flag == b"\x01":
            return (self.inner.deserialize(topic, body), None)
        if flag == b"\x00":
            return (None, self.inner.deserialize(topic, body))
        size = int.from_bytes(body[:4], "big")
        return (self.inner.deserialize(topic, body[4:4 + size]),
                self.inner.deserialize(topic, body[4 + size:]))


class Graph:
    """The topology under construction and Kafka's naming rules for it."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.topology = Topology()
        self.names = NameGenerator()
        self.config = dict(config or {})
        store = str(self.config.get("default.dsl.store", "in_memory")).lower()
        if store not in ("in_memory", "in-memory", "persistent", "rocksdb"):
            raise ValueError(
                f"default.dsl.store must be 'in_memory' or 'persistent', got {store!r}"
            )
        self.default_persistent = store in ("persistent", "rocksdb")
        self.repartition_sources: dict[str, str] = {}

    # -- names ------------------------------------------------------------------------------
    def name(self, user_name: str | None, prefix: str, burn: bool = True) -> str:
        """The user's name if given, else Kafka's ``PREFIX0000000042``.

        Kafka still consumes a counter value when the user names the node (``burn``), so
        that naming one node does not renumber the others.
        """
        if user_name is None:
            return self.names.processor_name(prefix)
        if burn:
            self.names.next_index()
        return user_name

    def suffixed(self, user_name: str | None, suffix: str, prefix: str) -> str:
        """``user_name + suffix`` if a name was given, else a generated ``prefix`` name."""
        generated = self.names.processor_name(prefix)
        if user_name is not None:
            return validate_name(user_name + suffix, "name")
        return generated

    def store_name(self, materialized: Materialized | None, prefix: str) -> tuple[str, bool]:
        """(store name, queryable): a generated name is not queryable, as in Kafka."""
        if materialized is not None and materialized.store_name is not None:
            return materialized.store_name, True
        return self.names.store_name(prefix), False

    # -- nodes ------------------------------------------------------------------------------
    def add_processor(self, name: str, factory: Callable[[], Any], parents: list[str],
                      stores: list[str] | tuple[str, ...] = ()) -> None:
        self.topology.add_processor(name, factory, *parents)
        if stores:
            self.topology.connect_processor_and_state_stores(name, store_names=list(stores))

    def add_source(self, name: str, topics: list[str], key_serde: Any = None,
                   value_serde: Any = None, timestamp_extractor: Any = None,
                   offset_reset: str | None = None) -> None:
        self.topology.add_source(name, *topics, key_serde=key_serde, value_serde=value_serde,
                                 timestamp_extractor=timestamp_extractor,
                                 offset_reset=offset_reset)

    def add_sink(self, name: str, topic: Any, parents: list[str], key_serde: Any = None,
                 value_serde: Any = None, partitioner: Any = None) -> None:
        self.topology.add_sink(name, topic, *parents, key_serde=key_serde,
                               value_serde=value_serde, partitioner=partitioner)

    def node(self, name: str) -> Any:
        return self.topology.nodes[name]

    def is_source(self, name: str) -> bool:
        return isinstance(self.topology.nodes[name], SourceSpec)

    def is_sink(self, name: str) -> bool:
        return isinstance(self.topology.nodes[name], SinkSpec)

    def is_processor(self, name: str) -> bool:
        return isinstance(self.topology.nodes[name], ProcessorSpec)

    # -- stores -----------------------------------------------------------------------------
    def key_value_store(self, name: str, materialized: Materialized | None, key_serde: Any,
                        value_serde: Any) -> StoreBuilder:
        """The timestamped key-value store builder of a DSL table or aggregation."""
        if materialized is not None and materialized.is_versioned:
            from ..state.builders import versioned_store_builder

            return versioned_store_builder(name, materialized, key_serde, value_serde)
        if materialized is not None and materialized.supplier is not None:
            supplier = materialized.supplier
        else:
            persistent = self.default_persistent
            if materialized is not None and materialized.store_type is not None:
                persistent = materialized.store_type == "persistent"
            supplier = (Stores.persistent_key_value_store(name) if persistent
                        else Stores.in_memory_key_value_store(name))
        if materialized is not None and materialized.key_serde is not None:
            key_serde = materialized.key_serde
        if materialized is not None and materialized.value_serde is not None:
            value_serde = materialized.value_serde
        builder = Stores.timestamped_key_value_store_builder(supplier, key_serde, value_serde)
        if materialized is not None:
            if not materialized.logging_enabled:
                builder.with_logging_disabled()
            else:
                builder.with_logging_enabled(materialized.logging_config)
            if not materialized.caching_enabled:
                builder.with_caching_disabled()
        return builder

    def add_store(self, builder: StoreBuilder, *processors: str) -> None:
        self.topology.add_state_store(builder, *processors)

    # -- repartitioning ---------------------------------------------------------------------
    def repartition(self, parent: str, prefix: str, key_serde: Any, value_serde: Any,
                    partitioner: Any = None, num_partitions: int | None = None,
                    with_filter: bool = True, reuse: bool = False) -> str:
        """Add (filter ->) sink -> topic -> source, as Kafka's ``createRepartitionedSource``;
        return the new source's name (the start of a new sub-topology)."""
        topic = prefix if prefix.endswith(REPARTITION_SUFFIX) else prefix + REPARTITION_SUFFIX
        # Kafka always burns the three counter values, named or not.
        gen_sink = self.names.processor_name("KSTREAM-SINK-")
        gen_filter = self.names.processor_name("KSTREAM-FILTER-") if with_filter else None
        gen_source = self.names.processor_name("KSTREAM-SOURCE-")
        if _GENERATED.fullmatch(prefix) or _GENERATED.fullmatch(topic[: -len(REPARTITION_SUFFIX)]):
            sink, filter_name, source = gen_sink, gen_filter, gen_source
        else:
            sink, filter_name, source = topic + "-sink", topic + "-filter", topic + "-source"
        if topic in self.topology.internal_topics and reuse:
            return self.repartition_sources[topic]
        if topic in self.topology.internal_topics:
            raise TopologyException(
                f"Invalid topology: repartition topic name {topic!r} is used twice: give each "
                "grouping its own name (Grouped.as_ / Repartitioned.as_) or reuse the grouped "
                "stream"
            )
        from ._stateless import PassThroughNode

        key_serde = serde_from_config(key_serde) if key_serde is not None else None
        last = parent
        if with_filter:
            # Kafka's repartition filter passes everything; aggregations drop null keys.
            self.add_processor(filter_name, PassThroughNode, [parent])
            last = filter_name
        self.add_sink(sink, topic, [last], key_serde=key_serde, value_serde=value_serde,
                      partitioner=partitioner)
        self.add_source(source, [topic], key_serde=key_serde, value_serde=value_serde)
        self.topology.mark_internal_topic(topic, num_partitions)
        self.repartition_sources[topic] = source
        return source


def default_serdes() -> tuple[Any, Any]:
    return Serdes.JSON(), Serdes.JSON()
