"""Kafka Streams metrics in the Prometheus text exposition format (version 0.0.4).

Names follow what Prometheus' JMX exporter makes of Kafka's MBeans: ``kafka_streams_`` +
group + metric name, dashes to underscores (``kafka_streams_stream_thread_metrics_
process_total{thread_id="..."}``), so dashboards built for Java Kafka Streams read them.
Levels: client (stream-metrics), thread, task (dropped records, lag of its partitions) and
state store (entries). Processor-node counters would cost per-record work and are left out.
"""

from __future__ import annotations

import math
from typing import Any

_Sample = tuple[str, dict[str, str], float]


def _name(group: str, metric: str, prefix: str = "kafka_streams_") -> str:
    return (prefix + group + "_" + metric).replace("-", "_").replace(".", "_")


def _escape(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)):
        return float(value)
    return None


class _Families:
    """Samples grouped by metric name, in first-seen order."""

    def __init__(self) -> None:
        self.families: dict[str, tuple[str, str, list[_Sample]]] = {}

    def add(self, name: str, labels: dict[str, Any], value: Any, help_text: str = "") -> None:
        number = _number(value)
        if number is None:
            return
        kind = "counter" if name.endswith("_total") else "gauge"
        family = self.families.setdefault(name, (kind, help_text or name, []))
        family[2].append((name, {k: str(v) for k, v in labels.items()}, number))

    def render(self) -> str:
        lines = []
        for name, (kind, help_text, samples) in self.families.items():
            lines.append(f"# HELP {name} {_escape(help_text)}")
            lines.append(f"# TYPE {name} {kind}")
            for sample, labels, value in samples:
                text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
                shown = repr(value) if not value.is_integer() else str(int(value))
                lines.append(f"{sample}{{{text}}} {shown}" if text else f"{sample} {shown}")
        return "\n".join(lines) + "\n"


_THREAD_HELP = {
    "process-total": "Records processed by the stream thread",
    "process-rate": "Records processed per second since the last scrape",
    "commit-total": "Commits of the stream thread",
    "poll-total": "Consumer polls of the stream thread",
    "record-e2e-latency-avg": "Average end-to-end latency (ms) of processed records",
}


def render(streams: Any) -> str:
    """The /metrics page of one KafkaStreams client."""
    metrics = streams.metrics()
    fam = _Families()
    client = {"client_id": streams.client_id, "application_id": streams.application_id}
    fam.add(_name("stream-metrics", "alive-stream-threads"), client,
            sum(1 for t in metrics["threads"].values() if t.get("state") != "DEAD"),
            "Stream threads alive in this client")
    fam.add(_name("stream-metrics", "client-state"), {**client, "state": metrics["state"]}, 1,
            "The client's state (the label), always 1")
    for thread, values in sorted(metrics["threads"].items()):
        labels = {**client, "thread_id": thread}
        for metric, value in values.items():
            if metric not in ("thread", "state"):
                fam.add(_name("stream-thread-metrics", metric), labels, value,
                        _THREAD_HELP.get(metric, f"Kafka Streams thread metric {metric}"))
    for thread_name, task_id, task in _tasks(streams):
        labels = {**client, "thread_id": thread_name, "task_id": task_id}
        fam.add(_name("stream-task-metrics", "dropped-records-total"), labels,
                sum(task.ctx.dropped.values()), "Records dropped by the task's operators")
        for name, store in sorted(task.stores.items()):
            count = getattr(store, "approximate_num_entries", None)
            if count is None:
                continue
            try:
                entries = count()
            except Exception:
                continue
            kind = getattr(store, "kind", "key_value").replace("_", "-")
            fam.add(_name("stream-state-metrics", "num-entries"),
                    {**labels, "store_type": kind, "state_id": name}, entries,
                    "Entries in the state store partition")
    for reason, count in sorted(metrics["dropped-records"].items()):
        fam.add(_name("stream-metrics", "dropped-records-total"), {**client, "reason": reason},
                count, "Records dropped, by reason")
    for (topic, partition), lag in sorted(metrics["records-lag"].items()):
        fam.add(_name("consumer-fetch-manager-metrics", "records-lag", "kafka_consumer_"),
                {**client, "topic": topic, "partition": partition}, lag,
                "Records between the committed position and the end of the partition")
    fam.add(_name("consumer-fetch-manager-metrics", "records-lag-max", "kafka_consumer_"),
            client, metrics["records-lag-max"], "Largest lag over the client's partitions")
    return fam.render()


def _tasks(streams: Any) -> list[tuple[str, str, Any]]:
    with streams._lock:
        threads = list(streams._threads)
    out = []
    for thread in threads:
        with thread.lock:
            out.extend((thread.name, task_id, task) for task_id, task in sorted(
                thread.tasks.items()))
    return out
