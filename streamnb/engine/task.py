"""A task: one sub-topology over one partition (group), with its own stores.

The same ``Task`` runs under the TopologyTestDriver (synchronously) and under the runtime
(records polled from Kafka); it never touches a client, a thread or a clock of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import InvalidStateStoreException, StreamsException
from ..processor import Processor, PunctuationType
from ..state.processor_metadata import ProcessorMetadata
from ..topology.topology import ProcessorSpec, SinkSpec, SourceSpec, Subtopology, Topology
from .api_node import ProcessorApiNode
from .context import UNKNOWN_TIME, RecordCollector, TaskContext
from .fusion import compile_batch, fuse, is_fusable
from .node import Node, SinkNode, SourceNode
from .node_counts import NodeCounts, count_calls, counting_levels, counts_itself
from .punctuation import PunctuationQueue, Schedule

log = logging.getLogger("streamnb.engine")


def changelog_topic(app_id: str, store: str) -> str:
    """Kafka's changelog topic name for a store: ``<application.id>-<store>-changelog``."""
    return f"{app_id}-{store}-changelog"


def internal_topic(app_id: str, topic: str) -> str:
    """The real name of an internal (repartition) topic: ``<application.id>-<name>``."""
    return f"{app_id}-{topic}"


class Task:
    """Processes records of one sub-topology and partition; owns its nodes and stores."""

    def __init__(
        self,
        task_id: str,
        topology: Topology,
        subtopology: Subtopology,
        collector: RecordCollector,
        app_id: str,
        config: dict[str, Any] | None = None,
        state_dir: Path | None = None,
        wall_clock: Callable[[], int] | None = None,
        partition: int = 0,
        global_stores: dict[str, Any] | None = None,
    ) -> None:
        self.task_id = task_id
        self.topology = topology
        self.subtopology = subtopology
        self.app_id = app_id
        self.partition = partition
        self.state_dir = state_dir
        self.commit_requested = False
        self._internal = topology.internal_topics
        self.ctx = TaskContext(self, collector, app_id, dict(config or {}),
                               wall_clock or (lambda: 0))
        self.stream_punctuations = PunctuationQueue()
        self.wall_punctuations = PunctuationQueue()
        self._global_stores = global_stores or {}
        self.stores: dict[str, Any] = {}
        self._changelog_flushes: list[Callable[[], None]] = []
        # Kafka's ProcessorMetadata: committed with the input offsets (processor_metadata.py)
        self.processor_metadata = ProcessorMetadata()
        self.nodes: dict[str, Node] = {}
        self._sources: dict[str, SourceNode] = {}
        self._entries: dict[str, Callable[..., None]] = {}  # topic -> source_entry
        # Records per node (processor-node process-total); see engine/node_counts.py.
        counting, count_every_node = counting_levels(self.ctx.config)
        self._counts: NodeCounts | None = NodeCounts() if counting else None
        self._count_every_node = counting and count_every_node
        self._build_nodes()
        self._build_stores()
        self._init_nodes()

    # -- construction -----------------------------------------------------------------------
    def resolve_topic(self, topic: str) -> str:
        return internal_topic(self.app_id, topic) if topic in self._internal else topic

    def _build_nodes(self) -> None:
        for name in self.subtopology.nodes:
            spec = self.topology.nodes[name]
            if isinstance(spec, SourceSpec):
                node: Node = SourceNode(name, [self.resolve_topic(t) for t in spec.topics])
                for topic in node.topics:  # type: ignore[attr-defined]
                    self._sources[topic] = node  # type: ignore[assignment]
            elif isinstance(spec, SinkSpec):
                node = SinkNode(name, spec.topic, spec.topic_extractor, spec.key_serde,
                                spec.value_serde, spec.partitioner)
            else:
                assert isinstance(spec, ProcessorSpec) and spec.factory is not None
                made = spec.factory()
                if isinstance(made, Node):
                    node = made
                    node.name = name
                elif isinstance(made, Processor) or callable(getattr(made, "process", None)):
                    node = ProcessorApiNode(name, made)
                else:
                    raise StreamsException(
                        f"the processor supplier of {name} returned {type(made).__name__}; it "
                        "must return a new streamnb.Processor instance each call"
                    )
                node.store_names = tuple(spec.stores)
            self.nodes[name] = node
        for name, node in self.nodes.items():
            node.children = [self.nodes[c] for c in self.topology.nodes[name].children
                             if c in self.nodes]

    def _build_stores(self) -> None:
        builders = self.topology.stores
        for name in self.subtopology.stores:
            is_global = name in self.topology.global_stores
            builder = (self.topology.global_stores[name].store_builder if is_global
                       else builders[name])
            store = builder.build()
            directory = None
            if self.state_dir is not None and getattr(store, "persistent", False):
                directory = self.state_dir / name
            store.init(directory)
            if builder.logging_enabled and not is_global:
                topic = self.topology.changelog_topic_override(name)
                topic = self.resolve_topic(topic) if topic else changelog_topic(self.app_id, name)
                versioned = getattr(store, "kind", "key_value") == "versioned"
                if hasattr(store, "drain_changelog"):
                    store.buffer_changelog()
                    self._changelog_flushes.append(self._make_changelog_drain(
                        topic, store.drain_changelog, builder.key_serde, builder.value_serde))
                else:
                    store._change_logger = self._make_change_logger(
                        topic, builder.timestamped or versioned, builder.key_serde,
                        builder.value_serde, keep_every_write=versioned,
                    )
                store.changelog_topic = topic
            else:
                store.changelog_topic = None
            # Versioned stores log (value, timestamp) pairs, and restore them the same way.
            store.timestamped = builder.timestamped or getattr(store, "kind", "") == "versioned"
            self.stores[name] = store

    def _make_change_logger(self, topic: str, timestamped: bool, key_serde: Any,
                            value_serde: Any, keep_every_write: bool = False
                            ) -> Callable[[Any, Any], None]:
        """A logger that keeps the latest write per key until the next commit.

        Like Kafka's caching layer in front of the changelog, only the last value of each key
        between two commits is sent; a write costs one dict assignment. A versioned store's
        writes are its history, so there (``keep_every_write``) every write is sent.
        """
        pending: dict[Any, Any] = {}
        send = self.ctx.collector.send_changelog
        # One call per commit instead of one per key when the collector can (the runtime's
        # compiled loop); the driver's collector sends one record per call, as before.
        send_batch = getattr(self.ctx.collector, "send_changelog_batch", None)
        # Timestamped changes straight from the pending dict: no record tuple per change.
        send_pairs = getattr(self.ctx.collector, "send_changelog_pairs", None)
        ctx = self.ctx
        partition = self.partition
        if keep_every_write:
            writes: list[tuple[Any, Any]] = []

            def log_every(key: Any, stored: Any) -> None:
                writes.append((key, stored))

            def flush_every() -> None:
                for key, stored in writes:
                    if stored is None:
                        send(topic, partition, key, None, ctx.timestamp, key_serde, value_serde)
                    else:
                        send(topic, partition, key, stored[0], stored[1], key_serde, value_serde)
                writes.clear()

            self._changelog_flushes.append(flush_every)
            return log_every
        if timestamped:
            log_change = pending.__setitem__  # values are (value, timestamp) or None

            def flush() -> None:
                if not pending:
                    return
                if send_pairs is not None:
                    send_pairs(topic, partition, pending.items(), ctx.timestamp, key_serde,
                               value_serde)
                    pending.clear()
                    return
                if send_batch is not None:
                    now = ctx.timestamp
                    send_batch(topic, partition, [
                        (key, None, now) if stored is None else (key, stored[0], stored[1])
                        for key, stored in pending.items()], key_serde, value_serde)
                    pending.clear()
                    return
                for key, stored in pending.items():
                    if stored is None:
                        send(topic, partition, key, None, ctx.timestamp, key_serde, value_serde)
                    else:
                        send(topic, partition, key, stored[0], stored[1], key_serde, value_serde)
                pending.clear()
        else:
            def log_change(key: Any, value: Any) -> None:
                pending[key] = (key, value, ctx.timestamp)  # already a changelog record

            def flush() -> None:
                if not pending:
                    return
                if send_batch is not None:
                    send_batch(topic, partition, list(pending.values()), key_serde, value_serde)
                    pending.clear()
                    return
                for key, value, timestamp in pending.values():
                    send(topic, partition, key, value, timestamp, key_serde, value_serde)
                pending.clear()
        self._changelog_flushes.append(flush)
        return log_change

    def _make_changelog_drain(self, topic: str, drain: Callable[[], list[tuple[Any, Any, int]]],
                              key_serde: Any, value_serde: Any) -> Callable[[], None]:
        """The commit-time send of a store that buffers its own changelog records.

        Such a store (``buffer_changelog``/``drain_changelog``, e.g. a join window store,
        where every write is a record of its own) keeps its writes in a list and turns them
        into ``(key, value, timestamp)`` records at commit, saving a logger call per write.
        A collector with ``send_changelog_batch(topic, partition, records, key_serde,
        value_serde)`` gets them in one call; any other gets one ``send_changelog`` each.
        """
        collector = self.ctx.collector
        send_batch = getattr(collector, "send_changelog_batch", None)
        send = collector.send_changelog
        partition = self.partition

        def flush() -> None:
            records = drain()
            if not records:
                return
            if send_batch is not None:
                send_batch(topic, partition, records, key_serde, value_serde)
                return
            for key, value, timestamp in records:
                send(topic, partition, key, value, timestamp, key_serde, value_serde)

        return flush

    def _init_nodes(self) -> None:
        # Children first, so that each parent binds its children's final process methods.
        order: list[str] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen:
                return
            seen.add(name)
            for child in self.nodes[name].children:
                visit(child.name)
            order.append(name)

        for name in self.nodes:
            visit(name)
        fuse_enabled = str(self.ctx.config.get("operator.fusion", True)).lower() not in (
            "false", "0", "no")
        for name in order:
            node = self.nodes[name]
            node.init(self.ctx)
            if fuse_enabled and is_fusable(node):
                node.process = fuse(node, self._counts)  # type: ignore[method-assign]
            elif self._count_every_node and not isinstance(node, SourceNode):
                assert self._counts is not None
                node.process = count_calls(  # type: ignore[method-assign]
                    self._counts, name, node.process)
            if self._counts is not None:
                self._counts.declare(name)

    def load_processor_metadata(self, metadata: ProcessorMetadata) -> None:
        """Merge metadata committed with the input offsets (read on assignment) and hand it
        to the nodes that keep state there (``restore_processor_metadata``)."""
        self.processor_metadata.update(metadata)
        for node in self.nodes.values():
            hook = getattr(node, "restore_processor_metadata", None)
            if hook is not None:
                hook(self.processor_metadata)

    def node_process_totals(self) -> dict[str, int]:
        """Records processed by each node of this task so far (Kafka's processor-node
        ``process-total``); read under the owning thread's lock. Nodes that only unfused
        nodes reach are counted at ``metrics.recording.level`` DEBUG only (else 0)."""
        return {} if self._counts is None else self._counts.totals()

    # -- stores -----------------------------------------------------------------------------
    def get_store(self, name: str, node: Node | None = None) -> Any:
        if name in self._global_stores:  # readable by every processor, as in Kafka
            return self._global_stores[name]
        store = self.stores.get(name)
        if node is not None and name not in node.store_names:
            # Kafka's message (for unknown stores too: it only checks the processor's stores).
            known = sorted(set(self.topology.stores) | set(self._global_stores))
            raise InvalidStateStoreException(
                f"Processor {node.name} has no access to StateStore {name} as the store is not "
                "connected to the processor. Connect it by naming it when you add the "
                f"processor, e.g. stream.process(supplier, {name!r}), or with "
                f"topology.add_state_store(store_builder, {node.name!r}) / "
                f"connect_processor_and_state_stores. Stores of this topology: {known}"
            )
        if store is not None:
            return store
        known = sorted(set(self.topology.stores) | set(self._global_stores))
        where = f" by processor {node.name}" if node is not None else ""
        raise InvalidStateStoreException(
            f"unknown state store {name!r} requested{where}; stores of this topology: {known}. "
            "Register it with builder.add_state_store(...) and name it in process(...)."
        )

    # -- processing -------------------------------------------------------------------------
    @property
    def source_topics(self) -> list[str]:
        return list(self._sources)

    def process(self, topic: str, key: Any, value: Any, timestamp: int, headers: Any = None,
                partition: int = 0, offset: int = -1) -> None:
        """Run one record from ``topic`` through the sub-topology."""
        self.source_entry(topic)(key, value, timestamp, headers, partition, offset)

    def source_entry(self, topic: str) -> Callable[..., None]:
        """A function ``(key, value, timestamp, headers, partition, offset)`` that runs records
        of ``topic`` - ``process`` without the per-record source lookup, for batch drivers."""
        entry = self._entries.get(topic)
        if entry is not None:
            return entry
        source = self._source(topic)
        ctx = self.ctx
        forward = source.process
        def run(key: Any, value: Any, timestamp: int, headers: Any = None, partition: int = 0,
                offset: int = -1) -> None:
            ctx.timestamp = timestamp
            ctx.headers = headers
            ctx.topic = topic
            ctx.partition = partition
            ctx.offset = offset
            if timestamp > ctx.stream_time:
                ctx.stream_time = timestamp
            forward(key, value)

        counts = self._counts
        if counts is not None:  # the source, and its children that do not count themselves
            slot = counts.new_slot()
            counts.attribute(source.name, slot)
            for child in source.children:
                if not counts_itself(child.process):
                    counts.attribute(child.name, slot)
            slots, uncounted = counts.slots, run

            def run(key: Any, value: Any, timestamp: int, headers: Any = None,  # noqa: F811
                    partition: int = 0, offset: int = -1) -> None:
                slots[slot] += 1  # one more call, only at the DEBUG recording level
                uncounted(key, value, timestamp, headers, partition, offset)

        self._entries[topic] = run
        return run

    def _source(self, topic: str) -> SourceNode:
        source = self._sources.get(topic)
        if source is None:
            raise StreamsException(
                f"task {self.task_id} does not read topic {topic!r}; it reads {self.source_topics}"
            )
        return source

    def batch_entry(self, topic: str, partition: int | None = None,
                    fields: tuple[str, ...] = ("key", "value", "timestamp")
                    ) -> Callable[[Any], None]:
        """A function running a list of record tuples of ``topic`` in one generated loop
        (see ``fusion.compile_batch``): the fast path for drivers that consume batches."""
        source = self._source(topic)
        return compile_batch(self.ctx, topic, self.partition if partition is None else partition,
                             source.children, fields, self._counts, source.name)

    # -- punctuation ------------------------------------------------------------------------
    def schedule(self, interval: int, kind: PunctuationType, callback: Callable[[int], None],
                 node: Node) -> Any:
        if kind is PunctuationType.STREAM_TIME:
            # Aligned to 0: fires as soon as there is data, then on interval multiples.
            return self.stream_punctuations.add(0, interval, node, callback)
        return self.wall_punctuations.add(self.ctx.wall_clock() + interval, interval, node,
                                          callback)

    def _run_punctuation(self, sched: Schedule, now: int) -> None:
        ctx = self.ctx
        saved = (ctx.timestamp, ctx.headers, ctx.topic, ctx.partition, ctx.offset)
        ctx.timestamp, ctx.headers, ctx.topic, ctx.partition, ctx.offset = now, None, None, -1, -1
        try:
            sched.callback(now)
        finally:
            ctx.timestamp, ctx.headers, ctx.topic, ctx.partition, ctx.offset = saved

    def maybe_punctuate_stream_time(self) -> bool:
        if not self.stream_punctuations or self.ctx.stream_time == UNKNOWN_TIME:
            return False
        return self.stream_punctuations.may_punctuate(self.ctx.stream_time,
                                                      self._run_punctuation)

    def maybe_punctuate_wall_clock(self, now: int | None = None) -> bool:
        if not self.wall_punctuations:
            return False
        now = self.ctx.wall_clock() if now is None else now
        return self.wall_punctuations.may_punctuate(now, self._run_punctuation)

    # -- lifecycle --------------------------------------------------------------------------
    def commit(self) -> None:
        """Send buffered changelog records, then flush every store (persistent stores write
        their cached changes)."""
        for flush_changelog in self._changelog_flushes:
            flush_changelog()
        for store in self.stores.values():
            store.flush()
        self.commit_requested = False

    def close(self) -> None:
        errors = []
        for node in self.nodes.values():
            try:
                node.close()
            except Exception as exc:  # close every node and store even if one fails
                errors.append(exc)
        for store in self.stores.values():
            try:
                store.close()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
