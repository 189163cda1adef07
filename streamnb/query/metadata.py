"""Which instance of an app owns a key: Kafka's group assignment plus advertised endpoints.

Kafka Streams advertises ``application.server`` in its group-protocol user data; librdkafka
does not let a member set that, so streamnb keeps both halves in Kafka itself:

* who owns a partition comes from the consumer group (``describe_consumer_groups``: each
  member's client id and assigned partitions); a stream thread's consumer is named
  ``<client id>-StreamThread-<n>-consumer``, which ties a member to its KafkaStreams client;
* where a client answers comes from a small compacted topic
  ``<application.id>-streamnb-endpoints``: each client writes ``client id -> host:port``
  when it starts and a tombstone when it closes.

No coordination service beyond Kafka topics. The key's partition is murmur2 of the key,
serialized with the store's source key serde, as the record collector writes it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Producer, TopicPartition

from ..runtime.codecs import resolve_serde
from ..topology.topology import SourceSpec
from .local import UnknownStateStoreException
from .murmur2 import partition_for

log = logging.getLogger("streamnb.query")

_THREAD_MARK = "-StreamThread-"


@dataclass(frozen=True)
class HostInfo:
    """Where an instance serves queries (its ``application.server``)."""

    host: str
    port: int

    @staticmethod
    def unavailable() -> HostInfo:
        return HostInfo("unavailable", -1)

    @staticmethod
    def parse(text: str) -> HostInfo:
        """``host:port`` (IPv6 as ``[::1]:8080``) -> HostInfo; a clear error otherwise."""
        if not isinstance(text, str) or ":" not in text:
            raise ValueError(f"application.server must be 'host:port', got {text!r}")
        host, _, port = text.strip().rpartition(":")
        host = host.strip("[]")
        try:
            number = int(port)
        except ValueError:
            number = -2
        if not host or not 0 <= number <= 65535:
            raise ValueError(f"application.server must be 'host:port' with a port 0..65535, "
                             f"got {text!r}")
        return HostInfo(host, number)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class KeyQueryMetadata:
    """Kafka's KeyQueryMetadata: the active host of a key, its standbys, its partition.
    ``client_id`` and ``is_local`` are streamnb's: the owning client and whether it is
    this one."""

    active_host: HostInfo
    standby_hosts: frozenset[HostInfo]
    partition: int
    client_id: str | None = None
    is_local: bool = False

    @staticmethod
    def not_available() -> KeyQueryMetadata:
        return KeyQueryMetadata(HostInfo.unavailable(), frozenset(), -1)

    def to_json(self) -> dict[str, Any]:
        return {"active_host": str(self.active_host), "standby_hosts": sorted(
            map(str, self.standby_hosts)), "partition": self.partition,
            "client_id": self.client_id, "is_local": self.is_local}


@dataclass
class StreamsMetadata:
    """One client of the app: its endpoint, stores and assigned input partitions."""

    client_id: str
    host_info: HostInfo
    state_store_names: list[str]
    topic_partitions: list[tuple[str, int]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "host_info": str(self.host_info),
                "state_store_names": self.state_store_names,
                "topic_partitions": [{"topic": t, "partition": p}
                                     for t, p in self.topic_partitions]}


def endpoints_topic(application_id: str) -> str:
    return f"{application_id}-streamnb-endpoints"


class MetadataService:
    """Key -> owner lookups for one KafkaStreams client (thread-safe, cached briefly)."""

    def __init__(self, streams: Any, endpoint: HostInfo | None,
                 local_partitions: Callable[[], list[tuple[str, int]]],
                 cache_ms: int = 1000) -> None:
        self._streams = streams
        self._local_partitions = local_partitions
        self._admin: Any = None
        self.endpoint = endpoint
        self._cache_s = cache_ms / 1000.0
        self._lock = threading.Lock()
        self._endpoints: dict[str, HostInfo] = {}
        self._group: dict[tuple[str, int], str] = {}
        self._group_members: dict[str, list[tuple[str, int]]] = {}
        self._group_at = 0.0
        self._reader: Consumer | None = None
        self._next_offset = 0
        self._producer: Producer | None = None
        self._topic = endpoints_topic(streams.application_id)
        self._groups: dict[str, Any] = {}  # store -> its sub-topology (per-query lookups)
        self._serdes: dict[str, Any] = {}  # store -> its key serde
        self._topics: dict[str, str] = {}  # store -> the source topic its keys hash on

    # -- advertising --------------------------------------------------------------------
    def _client_conf(self) -> dict[str, Any]:
        return {"bootstrap.servers": self._streams.bootstrap_servers,
                "logger": logging.getLogger("streamnb.runtime.kafka"),
                **self._streams.config.admin_config()}

    def ensure_topic(self) -> None:
        from ..broker import ensure_topics

        ensure_topics(self._streams.bootstrap_servers,
                      {self._topic: (1, {"cleanup.policy": "compact"})},
                      client_config=self._streams.config.admin_config())

    def advertise(self) -> None:
        """Publish this client's endpoint (idempotent; call after the REST server bound)."""
        if self.endpoint is None:
            return
        self.ensure_topic()
        if self._producer is None:
            self._producer = Producer({**self._client_conf(), "linger.ms": 0})
        value = json.dumps({"client_id": self._streams.client_id,
                            "application_server": str(self.endpoint),
                            "process_id": self._streams.process_id,
                            "advertised_at": int(time.time() * 1000)})
        self._producer.produce(self._topic, value.encode(), self._streams.client_id.encode())
        self._producer.flush(10)
        with self._lock:
            self._endpoints[self._streams.client_id] = self.endpoint

    def withdraw(self) -> None:
        """Tombstone this client's endpoint (on close) and release the clients."""
        try:
            if self._producer is not None and self.endpoint is not None:
                self._producer.produce(self._topic, None, self._streams.client_id.encode())
                self._producer.flush(5)
        except (KafkaException, BufferError) as exc:
            log.warning("could not withdraw the endpoint of %s: %s", self._streams.client_id,
                        exc)
        finally:
            self._producer = None
            self._admin = None
            reader, self._reader = self._reader, None
            if reader is not None:
                try:
                    reader.close()
                except Exception as exc:  # closing must not fail the app's close
                    log.debug("closing the endpoints reader: %s", exc)

    # -- reading ------------------------------------------------------------------------
    def _read_endpoints(self) -> None:
        """Catch up on the endpoints topic (to its end; it is small and compacted)."""
        if self._reader is None:
            self.ensure_topic()
            self._reader = Consumer({**self._client_conf(),
                                     "group.id": f"{self._streams.client_id}-endpoints-reader",
                                     "enable.auto.commit": False})
            self._reader.assign([TopicPartition(self._topic, 0, OFFSET_BEGINNING)])
            self._next_offset = 0
        reader = self._reader
        _low, high = reader.get_watermark_offsets(TopicPartition(self._topic, 0), timeout=5)
        deadline = time.monotonic() + 5.0
        while self._next_offset < high and time.monotonic() < deadline:
            msg = reader.poll(0.05)
            if msg is None or msg.error() is not None:
                continue
            self._next_offset = msg.offset() + 1
            client = msg.key().decode() if msg.key() else ""
            if msg.value() is None:
                self._endpoints.pop(client, None)
                continue
            try:
                data = json.loads(msg.value())
                self._endpoints[client] = HostInfo.parse(data["application_server"])
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("ignoring a bad entry in %s: %s", self._topic, exc)

    def _refresh_group(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._group_at < self._cache_s:
            return
        from ..broker._clients import admin_client

        owners: dict[tuple[str, int], str] = {}
        members: dict[str, list[tuple[str, int]]] = {}
        try:
            if self._admin is None:
                self._admin = admin_client(self._streams.bootstrap_servers,
                                           self._streams.config.admin_config())
            admin = self._admin
            app_id = self._streams.application_id
            group = admin.describe_consumer_groups([app_id])[app_id].result(timeout=5)
            for member in group.members:
                client = member.client_id.rsplit(_THREAD_MARK, 1)[0]
                parts = members.setdefault(client, [])
                assignment = member.assignment.topic_partitions if member.assignment else []
                for tp in assignment:
                    owners[(tp.topic, tp.partition)] = client
                    parts.append((tp.topic, tp.partition))
        except Exception as exc:  # e.g. a cluster without the admin API: local view only
            log.debug("describe_consumer_groups failed (%s); using the local assignment", exc)
            owners, members = self._local_assignment()
        self._group, self._group_members, self._group_at = owners, members, now

    def _local_assignment(self) -> tuple[dict[tuple[str, int], str], dict[str, list]]:
        me = self._streams.client_id
        owned = list(self._local_partitions())
        return {tp: me for tp in owned}, {me: owned}

    # -- lookups ------------------------------------------------------------------------
    def _store_group(self, store: str) -> Any:
        group = self._groups.get(store)
        if group is not None:
            return group
        topology = self._streams.topology
        group = next((g for g in topology.subtopologies() if store in g.stores), None)
        if group is None:
            if store in topology.global_stores:
                raise UnknownStateStoreException(
                    f"store {store!r} is a global store: every instance holds all of it, "
                    "query it locally")
            known = sorted(set(topology.stores) | set(topology.global_stores))
            raise UnknownStateStoreException(
                f"unknown state store {store!r}; the stores of this app are {known}")
        self._groups[store] = group  # the topology is fixed once the client exists
        return group

    def key_serde(self, store: str) -> Any:
        """The serde of the keys of ``store``: its task's source key serde (or the default)."""
        serde = self._serdes.get(store)
        if serde is None:
            serde = self._serdes[store] = self._key_serde(store)
        return serde

    def _key_serde(self, store: str) -> Any:
        topology = self._streams.topology
        group = self._store_group(store)
        source = next((topology.nodes[n] for n in group.nodes
                       if isinstance(topology.nodes[n], SourceSpec)), None)
        return resolve_serde(source.key_serde if source is not None else None,
                             self._streams.config.default_key_serde)

    def key_partition(self, store: str, key: Any, key_serde: Any = None) -> tuple[int, str]:
        """(partition, one source topic of the store's task) for ``key``."""
        streams = self._streams
        topic = self._topics.get(store)
        if topic is None:  # the topology is fixed once the client exists
            topic = self._topics[store] = streams.real_topic(
                self._store_group(store).source_topics[0])
        serde = key_serde if key_serde is not None else self.key_serde(store)
        data = serde.serialize(topic, key)
        if data is None:
            raise ValueError(f"key {key!r} serializes to null; a null key has no partition")
        return partition_for(data, streams.partition_count(topic)), topic

    def query_metadata_for_key(self, store: str, key: Any, key_serde: Any = None
                               ) -> KeyQueryMetadata:
        partition, topic = self.key_partition(store, key, key_serde)
        with self._lock:
            self._refresh_group()
            owner = self._group.get((topic, partition))
            if owner is None:  # just rebalanced? ask once more
                self._refresh_group(force=True)
                owner = self._group.get((topic, partition))
            if owner is not None and owner not in self._endpoints:
                self._refresh_endpoints()
            host = self._endpoints.get(owner) if owner else None
        me = self._streams.client_id
        if owner == me and host is None:
            host = self.endpoint
        return KeyQueryMetadata(host or HostInfo.unavailable(), frozenset(), partition,
                                owner, owner == me)

    def _refresh_endpoints(self) -> None:
        try:
            self._read_endpoints()
        except Exception as exc:
            log.warning("could not read %s: %s", self._topic, exc)

    def all_metadata(self) -> list[StreamsMetadata]:
        """Every client of the app with its endpoint and partitions (Kafka's
        ``metadataForAllStreamsClients``)."""
        stores = sorted(self._streams.topology.stores)
        with self._lock:
            self._refresh_group(force=True)
            self._refresh_endpoints()
            members = dict(self._group_members)
            endpoints = dict(self._endpoints)
        out = []
        for client, parts in sorted(members.items()):
            host = endpoints.get(client) or (
                self.endpoint if client == self._streams.client_id else None)
            out.append(StreamsMetadata(client, host or HostInfo.unavailable(), stores,
                                       sorted(parts)))
        return out

    def store_owners(self, store: str) -> dict[str, tuple[HostInfo | None, list[int]]]:
        """client id -> (its endpoint or None, the partitions of ``store`` it owns), from
        the cached group view: who a range query has to ask."""
        group = self._store_group(store)
        topic = self._streams.real_topic(group.source_topics[0])
        with self._lock:
            self._refresh_group()
            members = dict(self._group_members)
            if any(c not in self._endpoints for c in members):
                self._refresh_endpoints()
            endpoints = dict(self._endpoints)
        out: dict[str, tuple[HostInfo | None, list[int]]] = {}
        for client, parts in members.items():
            owned = sorted(p for t, p in parts if t == topic)
            if owned:
                host = endpoints.get(client)
                if client == self._streams.client_id and host is None:
                    host = self.endpoint
                out[client] = (host, owned)
        return out

    def invalidate(self) -> None:
        """Forget the cached assignment (after a query met a moved partition)."""
        with self._lock:
            self._group_at = 0.0
