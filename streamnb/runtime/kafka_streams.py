"""KafkaStreams: run a topology on background threads against a Kafka cluster.

``start()`` checks the broker and the topics, then returns while stream threads join the
consumer group and process records; a Jupyter kernel stays responsive. No signal handler is
ever installed: the owner of the process decides how it stops (``close()``, or exit, which
leaves the group after ``session.timeout.ms``).
"""

from __future__ import annotations

import json
import logging
import shutil
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from ..broker import BrokerNotAvailableException, default_state_dir, embedded_broker
from ..engine.task import internal_topic
from ..errors import InvalidStateStoreException, StreamsException
from ..topology.topology import Topology
from . import metrics as _metrics
from .config import StreamsConfig
from .global_thread import GlobalThread
from .states import State, StreamThreadExceptionResponse
from .store_views import CompositeStoreView, snapshot, store_frame
from .stream_thread import StreamThread
from .topics import TopicPlan, plan_and_create_topics

log = logging.getLogger("streamnb.runtime")

StateListener = Callable[[State, State], None]


class IllegalStateException(StreamsException, RuntimeError):
    """An operation that the client's current state does not allow (Kafka's name)."""


class KafkaStreams:
    """A Kafka Streams client: ``KafkaStreams(topology, config).start()``.

    Without ``bootstrap.servers`` in ``config`` the app runs on streamnb's embedded broker,
    started here (so ``bootstrap_servers`` is usable at once to create topics and produce).
    """

    State = State

    def __init__(self, topology: Topology, config: dict[str, Any] | StreamsConfig) -> None:
        if not isinstance(topology, Topology):
            hint = ": pass builder.build(), not the builder" if hasattr(topology, "build") else ""
            raise TypeError(f"KafkaStreams takes a Topology, got {type(topology).__name__}{hint}")
        self.config = config if isinstance(config, StreamsConfig) else StreamsConfig(config)
        topology.validate()
        self.topology = topology
        app_id = self.config.application_id
        self.client_id = self.config["client.id"] or f"{app_id}-{uuid.uuid4().hex[:8]}"
        root = self.config["state.dir"] or default_state_dir()
        self.state_dir = Path(root)
        self.app_dir = self.state_dir / app_id
        self.broker = None
        servers = self.config["bootstrap.servers"]
        if servers is None:
            self.broker = embedded_broker(self.state_dir)
            servers = self.broker.bootstrap_servers
            if self.config.exactly_once and not self.broker.supports_transactions:
                warnings.warn(
                    "processing.guarantee=exactly_once_v2 on the embedded mock cluster: "
                    "transactions there do not commit offsets, so this app is at-least-once",
                    RuntimeWarning, stacklevel=2)
        self._bootstrap = servers
        self.app_dir.mkdir(parents=True, exist_ok=True)
        self.process_id = _process_id(self.app_dir)
        self.plan: TopicPlan | None = None
        self.global_stores: dict[str, Any] = {}
        self._global: GlobalThread | None = None
        self._threads: list[StreamThread] = []
        self._lock = threading.RLock()
        self._state = State.CREATED
        self._listener: StateListener | None = None
        self._handler: Callable[[BaseException], Any] | None = None
        self._closer: threading.Thread | None = None
        self._errors: list[BaseException] = []
        self._started_at: float | None = None
        self.running_after_s: float | None = None  # start() -> first RUNNING, for benchmarks
        self._query_service: Any = None  # streamnb.query.service.QueryService, made on demand

    # -- properties -------------------------------------------------------------------------
    @property
    def bootstrap_servers(self) -> str:
        """Where the app's broker is (the embedded one's loopback address, or the config's)."""
        return self._bootstrap

    @property
    def application_id(self) -> str:
        return self.config.application_id

    def state(self) -> State:
        return self._state

    def set_state_listener(self, listener: StateListener | None) -> None:
        """Call ``listener(new_state, old_state)`` on every transition (before start())."""
        if listener is not None and not callable(listener):
            raise TypeError("the state listener must be callable(new_state, old_state)")
        self._require(State.CREATED, "set a state listener")
        self._listener = listener

    def set_uncaught_exception_handler(
            self, handler: Callable[[BaseException], StreamThreadExceptionResponse]) -> None:
        """``handler(exception)`` returns REPLACE_THREAD, SHUTDOWN_CLIENT or
        SHUTDOWN_APPLICATION when a stream thread dies; without one the client shuts down."""
        if not callable(handler):
            raise TypeError("the handler must be callable(exception) -> "
                            "StreamThreadExceptionResponse")
        self._require(State.CREATED, "set an uncaught exception handler")
        self._handler = handler

    def _require(self, state: State, what: str) -> None:
        if self._state is not state:
            raise IllegalStateException(
                f"cannot {what} in state {self._state}: only in state {state}")

    # -- state machine ----------------------------------------------------------------------
    def _set_state(self, new: State) -> bool:
        with self._lock:
            old = self._state
            if old is new and new is not State.REBALANCING:
                return False
            if not old.is_valid_transition(new):
                return False
            self._state = new
        if new is State.RUNNING and self.running_after_s is None and self._started_at:
            self.running_after_s = time.monotonic() - self._started_at
        log.info("stream-client [%s] State transition from %s to %s", self.client_id, old, new)
        listener = self._listener
        if listener is not None:
            try:
                listener(new, old)
            except Exception as exc:
                log.warning("state listener raised: %s", exc)
        return True

    def _thread_state_changed(self, thread: StreamThread) -> None:
        if self._state not in (State.REBALANCING, State.RUNNING):
            return
        with self._lock:
            threads = [t for t in self._threads if t.state != "DEAD"]
            running = bool(threads) and all(t.state == "RUNNING" for t in threads)
        if running and self._state is State.REBALANCING:
            self._set_state(State.RUNNING)
        elif not running and self._state is State.RUNNING:
            self._set_state(State.REBALANCING)

    def _thread_died(self, thread: StreamThread, error: BaseException | None) -> None:
        if error is None:
            self._thread_state_changed(thread)
            return
        self._errors.append(error)
        if self._state in (State.PENDING_SHUTDOWN, State.NOT_RUNNING, State.PENDING_ERROR,
                           State.ERROR):
            return
        response = StreamThreadExceptionResponse.SHUTDOWN_CLIENT
        if self._handler is not None:
            try:
                response = self._handler(error)
            except Exception as exc:
                log.error("the uncaught exception handler raised: %s", exc)
        if response is StreamThreadExceptionResponse.REPLACE_THREAD:
            log.warning("replacing stream thread %s after: %s", thread.name, error)
            with self._lock:
                replacement = StreamThread(thread.index, self)
                self._threads[self._threads.index(thread)] = replacement
            self._set_state(State.REBALANCING)
            replacement.start()
            return
        if response is StreamThreadExceptionResponse.SHUTDOWN_APPLICATION:
            log.error("SHUTDOWN_APPLICATION requested after %s; this client shuts down (other "
                      "instances of %r keep running: streamnb does not signal them)",
                      error, self.application_id)
        self._shutdown_async(error_state=True)

    def _global_died(self, error: BaseException) -> None:
        self._errors.append(error)
        if self._state not in (State.PENDING_SHUTDOWN, State.NOT_RUNNING, State.PENDING_ERROR,
                               State.ERROR):
            self._shutdown_async(error_state=True)

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> None:
        """Create the app's topics and start its threads; return at once.

        Raises BrokerNotAvailableException (with the address tried) when no broker answers,
        MissingSourceTopicException for a missing source topic on an external cluster.
        """
        with self._lock:
            if self._state is not State.CREATED:
                raise IllegalStateException(
                    f"start() may only be called once, in state CREATED (now {self._state}); "
                    "create a new KafkaStreams to run the app again")
            self._started_at = time.monotonic()
        try:
            _check_reachable(self._bootstrap)
            self.plan = plan_and_create_topics(self.topology, self.config, self._bootstrap,
                                               embedded=self.broker is not None)
            self._queries().start_rest()  # only when application.server is set
        except BaseException:
            self._set_state(State.PENDING_ERROR)
            self._set_state(State.ERROR)
            raise
        self._set_state(State.REBALANCING)
        if self.topology.global_stores:
            self._global = GlobalThread(self)
            self.global_stores = self._global.stores
        with self._lock:
            self._threads = [StreamThread(i + 1, self)
                             for i in range(self.config["num.stream.threads"])]
        starter = threading.Thread(target=self._start_threads, name=f"{self.client_id}-starter",
                                   daemon=True)
        starter.start()

    def _start_threads(self) -> None:
        if self._global is not None:
            self._global.start()
            self._global.bootstrapped.wait()
            if self._global.error is not None:
                return
        with self._lock:
            if self._state not in (State.REBALANCING, State.RUNNING):
                return
            for thread in self._threads:
                thread.start()

    def close(self, timeout: float | timedelta | None = None) -> bool:
        """Stop processing: commit, flush, close stores and leave the group.

        ``timeout`` (seconds or a timedelta; None waits as long as it takes) bounds the wait;
        returns whether every thread finished in time.
        """
        seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
        if seconds is not None and seconds < 0:
            raise ValueError(f"close timeout must not be negative, got {timeout!r}")
        with self._lock:
            if self._state is State.CREATED:
                self._set_state(State.PENDING_SHUTDOWN)
                self._set_state(State.NOT_RUNNING)
                return True
        own = threading.current_thread()
        if own in self._threads or own is self._global:
            self._shutdown_async(error_state=False)  # a thread cannot join itself
            return False
        self._shutdown_async(error_state=False)
        closer = self._closer
        if closer is not None:
            closer.join(seconds)
            return not closer.is_alive()
        return True

    def _shutdown_async(self, error_state: bool) -> None:
        with self._lock:
            if self._closer is not None:
                return
            target = State.PENDING_ERROR if error_state else State.PENDING_SHUTDOWN
            if not self._set_state(target):
                return
            self._closer = threading.Thread(target=self._shutdown, args=(error_state,),
                                            name=f"{self.client_id}-closer", daemon=True)
        self._closer.start()

    def _shutdown(self, error_state: bool) -> None:
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.stop()
        if self._global is not None:
            self._global.stop()
        me = threading.current_thread()
        for thread in threads:
            if thread is not me and thread.is_alive():
                thread.join()
        if self._global is not None and self._global is not me and self._global.is_alive():
            self._global.join()
        if self._query_service is not None:
            self._query_service.stop()
        self._set_state(State.ERROR if error_state else State.NOT_RUNNING)

    def clean_up(self) -> None:
        """Delete this app's local state (``state.dir/<application.id>``); only while the
        client is not running. Stores are rebuilt from their changelogs on the next start."""
        if self._state not in (State.CREATED, State.NOT_RUNNING, State.ERROR):
            raise IllegalStateException(
                f"clean_up() needs a client that is not running (state is {self._state}); "
                "call close() first")
        for child in self.app_dir.iterdir() if self.app_dir.exists() else ():
            if child.name != _PROCESS_FILE:
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)

    cleanUp = clean_up  # noqa: N815 - Kafka's name, for people porting Java code

    def __enter__(self) -> KafkaStreams:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers for threads ----------------------------------------------------------------
    def real_topic(self, topic: str) -> str:
        """The broker-side name of a topology topic (internal ones get the app id prefix)."""
        if topic in self.topology.internal_topics:
            return internal_topic(self.application_id, topic)
        return topic

    def partition_count(self, topic: str) -> int:
        plan = self.plan
        if plan is not None and topic in plan.partitions:
            return plan.partitions[topic]
        from ..broker import describe_partitions

        counts = describe_partitions(self._bootstrap, [topic],
                                     client_config=self.config.admin_config())
        if topic not in counts:
            raise StreamsException(f"topic {topic!r} does not exist on {self._bootstrap}")
        if plan is not None:
            plan.partitions[topic] = counts[topic]
        return counts[topic]

    # -- queries ----------------------------------------------------------------------------
    def _local_stores(self, name: str) -> list[tuple[Any, Any, int]]:
        """(store, lock, partition) of every local instance of store ``name``."""
        if self._global is not None and name in self._global.stores:
            return [(self._global.stores[name], self._global.lock, -1)]
        out = []
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            with thread.lock:
                for task in thread.tasks.values():
                    if name in task.stores:
                        out.append((task.stores[name], thread.lock, task.partition))
        if not out and name not in self.topology.stores:
            known = sorted(set(self.topology.stores) | set(self.topology.global_stores))
            raise InvalidStateStoreException(
                f"unknown state store {name!r}; the stores of this app are {known}")
        return out

    def store(self, name: str) -> CompositeStoreView:
        """A read-only view of store ``name`` over all its local partitions (tasks)."""
        if self._state not in (State.RUNNING, State.REBALANCING):
            raise InvalidStateStoreException(
                f"state store {name!r} can only be queried while the app runs (state is "
                f"{self._state})")
        return CompositeStoreView(name, lambda: self._local_stores(name))

    def stores(self) -> dict[str, CompositeStoreView]:
        """Every store of the app (global stores included), by name."""
        names = list(self.topology.stores) + list(self.topology.global_stores)
        return {name: self.store(name) for name in names}

    def to_pandas(self, store_name: str) -> Any:
        """The local content of a store as a DataFrame: one row per entry, ``key`` and
        ``value`` first (window and session stores add ``window_start`` / ``window_end``),
        then ``timestamp`` for timestamped stores and the ``partition`` (task) it lives in."""
        return store_frame(self._local_stores(store_name))

    def local_stores(self) -> dict[str, str]:
        """Name -> kind (``key_value``, ``window``, ``session``, ``versioned``) of every
        state store of this app, global stores included: what ``to_pandas``,
        ``local_store_snapshot`` and ``store`` can read. Reads the topology only (no lock)."""
        kinds: dict[str, str] = {}
        for name, builder in self.topology.stores.items():
            kinds[name] = _store_kind(builder)
        for name, spec in self.topology.global_stores.items():
            kinds[name] = _store_kind(getattr(spec, "store_builder", spec))
        return kinds

    def local_store_snapshot(self, store_name: str, limit: int = 20, by: str = "value",
                             key_filter: str | None = None,
                             window_span_ms: int | None = None) -> Any:
        """A bounded, cheap read of a store as a DataFrame: at most ``limit`` rows, the top
        entries by value (``by="value"``) or the first by key (``by="key"``), among keys
        whose text contains ``key_filter`` (case-insensitive).

        Made for live views that refresh often: the owning stream thread's lock is held only
        to copy the entries (a C-level dict copy for in-memory key-value stores; for window
        stores only the windows starting within ``window_span_ms`` of the store's stream
        time, when given); choosing the rows happens after the lock is released. Columns as
        in ``to_pandas`` (times stay epoch ms); ``frame.attrs`` holds ``total_entries`` and
        ``matching_entries``."""
        located = self._local_stores(store_name)
        return snapshot(store_name, located, limit, by, key_filter, window_span_ms).to_frame()

    def _queries(self) -> Any:
        if self._query_service is None:
            from ..query.service import QueryService

            self._query_service = QueryService(self)
        return self._query_service

    def query(self, request: Any, timeout: float | timedelta | None = None) -> Any:
        """Interactive Queries v2: run a ``StateQueryRequest`` on this client's partitions
        of the store; a ``StateQueryResult`` with one result per partition. ``timeout``
        (seconds) waits for partitions behind the request's position bound."""
        return self._queries().query(request, timeout)

    def query_metadata_for_key(self, store_name: str, key: Any, key_serde: Any = None) -> Any:
        """Which client (``active_host``, its ``application.server``) and partition hold
        ``key`` in ``store_name`` (Kafka's ``queryMetadataForKey``)."""
        return self._queries().query_metadata_for_key(store_name, key, key_serde)

    def metadata_for_all_streams_clients(self) -> list[Any]:
        """Every client of this app: endpoint, stores and input partitions."""
        return self._queries().all_metadata()

    @property
    def rest_address(self) -> str | None:
        """``http://host:port`` of this client's REST server, or None when it has none."""
        service = self._query_service
        rest = None if service is None else service.rest
        return None if rest is None else rest.url

    def metrics(self) -> dict[str, Any]:
        """Client metrics (Kafka names) as a dict; see ``metrics_df()`` for a DataFrame."""
        with self._lock:
            threads = list(self._threads)
        snapshots, lag, dropped, sizes = [], {}, {}, {}
        nodes: dict[tuple[str, str, str], int] = {}
        for thread in threads:
            snap = thread.metrics.snapshot()
            snap["thread"] = thread.name
            snap["state"] = thread.state
            snapshots.append(snap)
            lag.update(thread.metrics.lag)
            with thread.lock:
                for task in thread.tasks.values():
                    for reason, count in task.ctx.dropped.items():
                        dropped[reason] = dropped.get(reason, 0) + count
                    for node, count in _metrics.task_node_totals(task).items():
                        nodes[(thread.name, task.task_id, node)] = count
                    for name, store in task.stores.items():
                        count = getattr(store, "approximate_num_entries", None)
                        if count is not None:
                            sizes[name] = sizes.get(name, 0) + count()
        if self._global is not None:
            for name, store in self._global.stores.items():
                count = getattr(store, "approximate_num_entries", None)
                if count is not None:
                    sizes[name] = count()
        out = _metrics.aggregate(snapshots, lag, dropped, sizes, nodes)
        out["state"] = str(self._state)
        return out

    def metrics_df(self) -> Any:
        """``metrics()`` as a pandas DataFrame with columns group, name, tags, value."""
        return _metrics.to_frame(self.metrics())

    def local_thread_metadata(self) -> list[dict[str, Any]]:
        """Each stream thread's name, state and tasks (Kafka's ThreadMetadata, as dicts)."""
        with self._lock:
            threads = list(self._threads)
        out = []
        for thread in threads:
            with thread.lock:
                tasks = sorted(thread.tasks)
            out.append({"thread_name": thread.name, "thread_state": thread.state,
                        "active_tasks": tasks})
        return out

    def __repr__(self) -> str:
        return (f"<KafkaStreams {self.application_id!r} {self._state} on "
                f"{self._bootstrap}>")


def _store_kind(builder: Any) -> str:
    supplier = getattr(builder, "supplier", builder)
    return str(getattr(supplier, "kind", None) or getattr(builder, "kind", None)
               or "key_value")


_PROCESS_FILE = "streamnb-process.json"


def _process_id(app_dir: Path) -> str:
    """A stable id of this app instance's state directory (Kafka keeps one too): it names
    the transactional producers, so a restart fences the transactions a crash left open."""
    path = app_dir / _PROCESS_FILE
    try:
        return str(json.loads(path.read_text())["process_id"])
    except (OSError, ValueError, KeyError):
        pid = uuid.uuid4().hex
        path.write_text(json.dumps({"process_id": pid}))
        return pid


def _check_reachable(bootstrap: str) -> None:
    """Fail fast, with the addresses tried, when no bootstrap server accepts connections."""
    tried = []
    for server in bootstrap.split(","):
        server = server.strip()
        if "://" in server:
            server = server.split("://", 1)[1]
        host, _, port = server.rpartition(":")
        host = host.strip("[]") or "localhost"
        try:
            with socket.create_connection((host, int(port)), timeout=2.0):
                return
        except (OSError, ValueError) as exc:
            tried.append(f"{server} ({exc})")
    raise BrokerNotAvailableException(
        f"no Kafka broker is reachable at bootstrap.servers={bootstrap!r}; tried: "
        f"{'; '.join(tried)}. Check the host:port list and that the broker runs, or leave "
        "bootstrap.servers out to use streamnb's embedded broker."
    )
