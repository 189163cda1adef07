"""The query side of one KafkaStreams client: local IQv2, key metadata, the REST server.

KafkaStreams keeps one of these (created on first use) so that the runtime itself only
gains a few delegating methods; everything about queries lives in ``streamnb.query``.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from typing import Any

from ..errors import InvalidStateStoreException
from ..runtime.states import State
from . import execute
from .local import LocalPartition, UnknownStateStoreException, run_request
from .metadata import HostInfo, KeyQueryMetadata, MetadataService, StreamsMetadata
from .position import Position
from .requests import StateQueryRequest
from .results import StateQueryResult

log = logging.getLogger("streamnb.query")


class StreamsNotStartedException(InvalidStateStoreException):
    """query() before start() (Kafka's name)."""


class StreamsStoppedException(InvalidStateStoreException):
    """query() on a client that is shutting down or stopped (Kafka's name)."""


class QueryService:
    """Local queries, metadata and (optionally) the REST server of one client."""

    def __init__(self, streams: Any) -> None:
        self.streams = streams
        config = streams.config
        server = config["application.server"]
        self.endpoint = HostInfo.parse(server) if server else None
        self.metadata = MetadataService(streams, self.endpoint, self.local_partitions,
                                        config["streamnb.query.metadata.cache.ms"])
        self.rest: Any = None
        self._rest_lock = threading.Lock()
        self._known: set[str] = set()
        self._kinds: dict[str, str] = {}

    # -- local partitions ---------------------------------------------------------------
    def _threads(self) -> list[Any]:
        return list(self.streams._threads)  # atomic under the GIL; never waits

    def locate(self, store: str) -> list[LocalPartition]:
        """This client's partitions of ``store``. Lock-free: copying a dict's values is
        atomic under the GIL, so a query never waits for a batch to finish."""
        out = []
        for thread in self._threads():
            running = thread.state == "RUNNING"
            tasks = list(thread.tasks.values())
            for task in tasks:
                found = task.stores.get(store)
                if found is not None:
                    out.append(LocalPartition(task.partition, found, thread.lock,
                                              _position_of(thread, task.task_id), running,
                                              task.task_id))
        return out

    def local_partitions(self) -> list[tuple[str, int]]:
        """The input partitions this client's threads own now."""
        out = []
        for thread in self._threads():
            out.extend(thread.input_offsets_by_partition())
        return out

    def store_partition_count(self, store: str) -> int | None:
        topology = self.streams.topology
        for group in topology.subtopologies():
            if store in group.stores and group.source_topics:
                try:
                    return self.streams.partition_count(
                        self.streams.real_topic(group.source_topics[0]))
                except Exception:
                    return None
        return None

    def check_store(self, store: str) -> None:
        if store in self._known:
            return
        topology = self.streams.topology
        if store in topology.stores or store in topology.global_stores:
            self._known.add(store)  # the topology is fixed once the client exists
        else:
            known = sorted(set(topology.stores) | set(topology.global_stores))
            raise UnknownStateStoreException(
                f"Cannot get state store {store!r} because no such store is registered in "
                f"the topology; its stores are {known}")

    def store_kind(self, store: str) -> str:
        """The kind (key_value/window/session/versioned) of a store of the topology."""
        kind = self._kinds.get(store)
        if kind is not None:
            return kind
        self.check_store(store)
        topology = self.streams.topology
        stores = topology.stores  # a dict built per call: once here
        if store in stores:
            kind = stores[store].kind
        else:
            kind = topology.global_stores[store].store_builder.kind
        self._kinds[store] = kind  # the topology is fixed once the client exists
        return kind

    # -- IQv2 ---------------------------------------------------------------------------
    def query(self, request: StateQueryRequest, timeout: float | timedelta | None = None
              ) -> StateQueryResult:
        if not isinstance(request, StateQueryRequest):
            raise TypeError("query() takes a StateQueryRequest: StateQueryRequest.in_store("
                            f"name).with_query(KeyQuery.with_key(k)), got "
                            f"{type(request).__name__}")
        self.check_store(request.store_name)
        state = self.streams.state()
        if state is State.CREATED:
            raise StreamsNotStartedException(
                "KafkaStreams has not been started, you can retry after calling start().")
        if state not in (State.RUNNING, State.REBALANCING):
            raise StreamsStoppedException(
                f"KafkaStreams has been stopped ({state}). This instance can no longer serve "
                "queries.")
        glob = self.streams._global
        if glob is not None and request.store_name in glob.stores:
            part = LocalPartition(-1, glob.stores[request.store_name], glob.lock, Position,
                                  True, "global")
            return run_request(request, self.locate, None, part)
        name = request.store_name
        return run_request(request, self.locate, lambda: self.store_partition_count(name),
                           timeout=timeout)

    def read_key(self, store: str, partition: int, query: Any) -> tuple[Any, Position] | None:
        """(result, position) of a key query on this client's ``partition`` of ``store``,
        read directly: what ``query`` with ``with_partitions({partition})``, no bound and
        no execution info gives that partition, without building a request and a result
        around it (REST's routed key query). None when that path has anything to say
        (not running, a global store, the partition not here, a store that refuses or
        fails): the caller then asks ``query`` for the full answer."""
        if self.streams.state() not in (State.RUNNING, State.REBALANCING):
            return None
        glob = self.streams._global
        if glob is not None and store in glob.stores:
            return None
        for thread in self._threads():
            for task in list(thread.tasks.values()):
                found = task.stores.get(store) if task.partition == partition else None
                if found is not None:
                    position = _position_of(thread, task.task_id)()
                    try:
                        return execute.run(found, thread.lock, query, position), position
                    except Exception:  # noqa: BLE001 - query() reports it properly
                        return None
        return None

    def query_metadata_for_key(self, store: str, key: Any, key_serde: Any = None
                               ) -> KeyQueryMetadata:
        self.check_store(store)
        return self.metadata.query_metadata_for_key(store, key, key_serde)

    def all_metadata(self) -> list[StreamsMetadata]:
        return self.metadata.all_metadata()

    def is_ready(self) -> bool:
        """RUNNING with every thread RUNNING (assignment done, stores restored)."""
        if self.streams.state() is not State.RUNNING:
            return False
        threads = [t for t in self._threads() if t.state != "DEAD"]
        return bool(threads) and all(t.state == "RUNNING" for t in threads)

    # -- REST lifecycle -----------------------------------------------------------------
    def start_rest(self) -> None:
        """Start the REST server when ``application.server`` is set, then advertise it."""
        if self.endpoint is None:
            return
        from .rest import RestServer

        with self._rest_lock:
            if self.rest is not None:
                return
            config = self.streams.config
            self.rest = RestServer(self, config["streamnb.rest.bind.address"],
                                   self.endpoint.port, config["streamnb.rest.auth.token"],
                                   config["streamnb.rest.switch.interval.ms"] / 1000.0)
            self.rest.start()
            if self.endpoint.port == 0:  # an ephemeral port: advertise the one bound
                self.endpoint = HostInfo(self.endpoint.host, self.rest.port)
                self.metadata.endpoint = self.endpoint
        try:
            self.metadata.advertise()
        except Exception as exc:  # serving locally still works; routing will not
            log.warning("could not advertise %s in %s: %s", self.endpoint,
                        self.metadata._topic, exc)

    def stop(self) -> None:
        with self._rest_lock:
            rest, self.rest = self.rest, None
        if rest is not None:
            rest.stop()
        self.metadata.withdraw()


def _position_of(thread: Any, task_id: str) -> Any:
    """The task's input position, read without the thread's lock (a batch or a commit can
    hold it for long): the offsets are copied atomically under the GIL and each one is
    updated only after its records are in the stores, so the position never runs ahead of
    the state read after it."""
    def position() -> Position:
        out: dict[str, dict[int, int]] = {}
        for inp in list(thread._inputs.values()):
            if inp.offset >= 0 and inp.task.task_id == task_id:
                out.setdefault(inp.topic, {})[inp.partition] = inp.offset
        return Position._adopt(out)  # fresh, of ints: no need to copy it once more
    return position

