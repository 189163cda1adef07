"""Which topics an app needs, how many partitions each gets, and creating them.

As in Kafka Streams: a repartition topic gets the partition count of the sub-topology that
writes into it (the most partitions among that sub-topology's sources) unless
``Repartitioned`` fixed one; a changelog topic gets one partition per task of its store's
sub-topology and ``cleanup.policy=compact``; co-partitioned topics must agree. Missing source
topics are created on the embedded broker and are an error on an external cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..broker import MissingSourceTopicException, describe_partitions, ensure_topics
from ..engine.task import changelog_topic, internal_topic
from ..errors import TopologyException
from ..topology.topology import SinkSpec, Subtopology, Topology
from .config import StreamsConfig


@dataclass
class TopicPlan:
    """Real topic names and partition counts of one app."""

    #: sub-topology id -> its source topics (real names).
    sources: dict[int, list[str]] = field(default_factory=dict)
    #: sub-topology id -> number of tasks (= partitions of its widest source).
    tasks: dict[int, int] = field(default_factory=dict)
    #: topic -> partition count, for every topic the app reads or writes.
    partitions: dict[str, int] = field(default_factory=dict)
    #: store name -> changelog topic (real name), for logged stores.
    changelogs: dict[str, str] = field(default_factory=dict)
    #: global store name -> its source topics.
    global_sources: dict[str, list[str]] = field(default_factory=dict)

    @property
    def stream_topics(self) -> list[str]:
        """Every topic the stream threads subscribe to."""
        return [t for topics in self.sources.values() for t in topics]


def _real(topology: Topology, app_id: str, topic: str) -> str:
    return internal_topic(app_id, topic) if topic in topology.internal_topics else topic


def plan_and_create_topics(topology: Topology, config: StreamsConfig, bootstrap: str,
                           embedded: bool, timeout: float = 10.0) -> TopicPlan:
    """Work out and create every topic the app needs; raise clear errors for what is wrong."""
    app_id = config.application_id
    admin_conf = config.admin_config()
    groups = topology.subtopologies()
    plan = TopicPlan()
    internal = {internal_topic(app_id, t) for t in topology.internal_topics}
    for group in groups:
        plan.sources[group.id] = [_real(topology, app_id, t) for t in group.source_topics]
    for name, spec in topology.global_stores.items():
        plan.global_sources[name] = [_real(topology, app_id, t) for t in spec.source.topics]

    external_sources = sorted({t for ts in plan.sources.values() for t in ts if t not in internal}
                              | {t for ts in plan.global_sources.values() for t in ts})
    sinks = sorted({spec.topic for spec in topology.nodes.values()
                    if isinstance(spec, SinkSpec) and spec.topic is not None
                    and spec.topic not in topology.internal_topics})
    if embedded:
        default = config["streamnb.embedded.topic.partitions"]
        existing = ensure_topics(bootstrap, {t: default for t in external_sources + sinks},
                                 client_config=admin_conf, timeout=timeout)
    else:
        existing = describe_partitions(bootstrap, external_sources + sinks,
                                       client_config=admin_conf, timeout=timeout)
        missing = [t for t in external_sources if t not in existing]
        if missing:
            names = ", ".join(repr(t) for t in missing)
            raise MissingSourceTopicException(
                f"source topic(s) {names} of application {app_id!r} do not exist on "
                f"{bootstrap}. Kafka Streams does not create source topics on a cluster: "
                f"create them first (e.g. kafka-topics.sh --create --topic {missing[0]} "
                f"--bootstrap-server {bootstrap.split(',')[0]}), or check the topic names."
            )
    plan.partitions.update(existing)
    _size_repartition_topics(topology, app_id, groups, plan)
    _enforce_copartitioning(topology, app_id, plan)
    for group in groups:
        plan.tasks[group.id] = max((plan.partitions[t] for t in plan.sources[group.id]),
                                   default=1)

    wanted: dict[str, Any] = {}
    topic_conf = config.topic_config()
    for topic in internal:
        if topic in plan.partitions and topic in {t for ts in plan.sources.values() for t in ts}:
            wanted[topic] = (plan.partitions[topic], {"cleanup.policy": "delete", **topic_conf})
    for group in groups:
        for store in group.stores:
            builder = topology.stores[store]
            if not getattr(builder, "logging_enabled", True):
                continue
            override = topology.changelog_topic_override(store)
            if override:
                plan.changelogs[store] = _real(topology, app_id, override)
                continue
            topic = changelog_topic(app_id, store)
            plan.changelogs[store] = topic
            conf = {"cleanup.policy": "compact", **topic_conf}
            conf.update(_windowed_changelog_config(builder, config))
            conf.update({k: str(v) for k, v in (getattr(builder, "logging_config", None)
                                                 or {}).items()})
            wanted[topic] = (plan.tasks[group.id], conf)
    if wanted:
        counts = ensure_topics(bootstrap, wanted, client_config=admin_conf, timeout=timeout,
                               replication_factor=config["replication.factor"])
        for topic, count in counts.items():
            asked = wanted[topic][0]
            if count < asked:
                raise TopologyException(
                    f"internal topic {topic!r} exists with {count} partition(s) but application "
                    f"{app_id!r} needs {asked} (its input gained partitions?). Reset the app "
                    f"(delete its internal topics) or use a new application.id."
                )
            plan.partitions[topic] = count
    return plan


def _size_repartition_topics(topology: Topology, app_id: str, groups: list[Subtopology],
                             plan: TopicPlan) -> None:
    """Give each repartition topic its count: fixed by Repartitioned, else the most
    partitions among the sources of the sub-topology writing it (repeated to a fixpoint,
    since that sub-topology may itself read a repartition topic)."""
    writers: dict[str, list[int]] = {}
    for group in groups:
        for topic in group.sink_topics:
            if topic in topology.internal_topics:
                writers.setdefault(_real(topology, app_id, topic), []).append(group.id)
    for raw, fixed in topology.internal_topic_partitions.items():
        if fixed:
            plan.partitions[_real(topology, app_id, raw)] = int(fixed)
    for _ in range(len(groups) + 1):
        changed = False
        for topic, writer_ids in writers.items():
            if topic in plan.partitions and _fixed(topology, app_id, topic):
                continue
            counts = [plan.partitions[t] for w in writer_ids for t in plan.sources[w]
                      if t in plan.partitions]
            if counts and plan.partitions.get(topic) != max(counts):
                plan.partitions[topic] = max(counts)
                changed = True
        if not changed:
            break
    for topic in writers:
        plan.partitions.setdefault(topic, 1)


def _windowed_changelog_config(builder: Any, config: StreamsConfig) -> dict[str, str]:
    """Kafka's changelog config for window and session stores: compacted AND deleted after
    the store's retention plus ``windowstore.changelog.additional.retention.ms``, so that a
    restore does not replay windows the store expired long ago."""
    supplier = getattr(builder, "supplier", None)
    if getattr(supplier, "kind", None) not in ("window", "session"):
        return {}
    retention = supplier.params.get("retention_ms")
    if retention is None:
        return {}
    extra = int(config["windowstore.changelog.additional.retention.ms"])
    return {"cleanup.policy": "compact,delete", "retention.ms": str(retention + extra)}


def _fixed(topology: Topology, app_id: str, topic: str) -> bool:
    return any(_real(topology, app_id, raw) == topic and n
               for raw, n in topology.internal_topic_partitions.items())


def _enforce_copartitioning(topology: Topology, app_id: str, plan: TopicPlan) -> None:
    """Co-partitioned topics (joins) must have equal counts; internal ones follow the
    external ones, as Kafka's CopartitionedTopicsEnforcer does."""
    for group in topology.copartition_groups:
        real = [_real(topology, app_id, t) for t in group]
        external = {t: plan.partitions[t] for t in real
                    if t in plan.partitions and t not in _internal(topology, app_id)}
        if len(set(external.values())) > 1:
            raise TopologyException(
                f"topics {sorted(external)} must be co-partitioned (a join reads them "
                f"together) but have partition counts {external}; give them the same number "
                "of partitions or repartition one side"
            )
        target = (next(iter(external.values())) if external
                  else max((plan.partitions.get(t, 1) for t in real), default=1))
        for topic in real:
            if topic in _internal(topology, app_id) and not _fixed(topology, app_id, topic):
                plan.partitions[topic] = target


def _internal(topology: Topology, app_id: str) -> set[str]:
    return {internal_topic(app_id, t) for t in topology.internal_topics}
