"""Runtime metrics: plain counters on the hot path, rates and frames computed when read.

A stream thread only adds to integers and floats (per batch, not per record); the notebook
widgets read snapshots on their own schedule, so measuring never slows processing down.
Names follow Kafka Streams' metric names (``process-rate``, ``commit-latency-avg``...).
"""

from __future__ import annotations

import time
from typing import Any


class ThreadMetrics:
    """Counters of one stream thread (written by that thread only)."""

    def __init__(self, thread_name: str) -> None:
        self.thread_name = thread_name
        self.started = time.monotonic()
        self.process_total = 0
        self.process_time = 0.0  # seconds spent processing records
        self.poll_total = 0
        self.commit_total = 0
        self.commit_time = 0.0
        self.punctuate_total = 0
        self.deserialization_errors = 0
        self.production_errors = 0
        self.e2e_latency_sum = 0.0
        self.e2e_latency_count = 0
        self.e2e_latency_max = 0.0
        self.e2e_latency_last = 0.0
        self.restored_records = 0
        self.rebalances = 0
        # (topic, partition) -> consumer lag, refreshed by the thread about once a second.
        self.lag: dict[tuple[str, int], int] = {}
        # Previous snapshot, for rates between two reads.
        self._last: tuple[float, int, int, int] | None = None

    def record_e2e(self, now_ms: int, record_ts: int) -> None:
        latency = max(0, now_ms - record_ts)
        self.e2e_latency_sum += latency
        self.e2e_latency_count += 1
        self.e2e_latency_last = latency
        if latency > self.e2e_latency_max:
            self.e2e_latency_max = latency

    def snapshot(self) -> dict[str, Any]:
        """Kafka-named values of this thread; rates are over the time since the last read
        (or since the thread started)."""
        now = time.monotonic()
        last = self._last or (self.started, 0, 0, 0)
        span = max(now - last[0], 1e-9)
        self._last = (now, self.process_total, self.commit_total, self.poll_total)
        return {
            "process-total": self.process_total,
            "process-rate": (self.process_total - last[1]) / span,
            "process-latency-avg": (self.process_time / self.process_total * 1e3
                                    if self.process_total else 0.0),
            "commit-total": self.commit_total,
            "commit-rate": (self.commit_total - last[2]) / span,
            "commit-latency-avg": (self.commit_time / self.commit_total * 1e3
                                   if self.commit_total else 0.0),
            "poll-total": self.poll_total,
            "poll-rate": (self.poll_total - last[3]) / span,
            "punctuate-total": self.punctuate_total,
            "deserialization-errors-total": self.deserialization_errors,
            "production-errors-total": self.production_errors,
            "record-e2e-latency-avg": (self.e2e_latency_sum / self.e2e_latency_count
                                       if self.e2e_latency_count else 0.0),
            "record-e2e-latency-max": self.e2e_latency_max,
            "record-e2e-latency-last": self.e2e_latency_last,
            "restore-total": self.restored_records,
            "rebalance-total": self.rebalances,
        }


_SUMMED = ("process-total", "process-rate", "commit-total", "commit-rate", "poll-total",
           "poll-rate", "punctuate-total", "deserialization-errors-total",
           "production-errors-total", "restore-total", "rebalance-total")


NODE_GROUP = "stream-processor-node-metrics"  # Kafka's group of processor-node metrics


def task_node_totals(task: Any) -> dict[str, int]:
    """Records processed by each node of one task (Kafka's ``process-total`` at processor-
    node level), as the engine counts them: a task that counts offers
    ``node_process_totals`` (a mapping node name -> records, or a callable returning one),
    kept per batch by the engine, never per record by the metrics layer. Empty when the
    task does not count. Call while holding the owning thread's lock."""
    totals = getattr(task, "node_process_totals", None)
    if totals is None:
        return {}
    if callable(totals):
        totals = totals()
    return {str(node): int(count) for node, count in dict(totals).items()}


def aggregate(threads: list[dict[str, Any]], lag: dict[tuple[str, int], int],
              dropped: dict[str, int], store_sizes: dict[str, int],
              nodes: dict[tuple[str, str, str], int] | None = None) -> dict[str, Any]:
    """The client-level metrics dict: sums and averages over threads, plus per-partition
    lag, dropped records by reason, store sizes and, when the engine counts them, records
    processed per processor node: ``processor-node-process-total`` keyed by (thread-id,
    task-id, processor-node-id), and ``node-process-total`` summed per node name over
    tasks (what the topology drawing shows)."""
    out: dict[str, Any] = {name: sum(t[name] for t in threads) for name in _SUMMED}
    total = out["process-total"]
    out["process-latency-avg"] = (sum(t["process-latency-avg"] * t["process-total"]
                                      for t in threads) / total if total else 0.0)
    commits = out["commit-total"]
    out["commit-latency-avg"] = (sum(t["commit-latency-avg"] * t["commit-total"]
                                     for t in threads) / commits if commits else 0.0)
    out["record-e2e-latency-avg"] = (sum(t["record-e2e-latency-avg"] for t in threads)
                                     / len(threads) if threads else 0.0)
    out["record-e2e-latency-max"] = max((t["record-e2e-latency-max"] for t in threads),
                                        default=0.0)
    out["dropped-records-total"] = sum(dropped.values())
    out["dropped-records"] = dict(dropped)
    out["records-lag"] = dict(lag)
    out["records-lag-max"] = max(lag.values(), default=0)
    out["records-lag-total"] = sum(lag.values())
    out["store-sizes"] = dict(store_sizes)
    per_node = dict(nodes or {})
    by_name: dict[str, int] = {}
    for (_thread, _task, node), count in per_node.items():
        by_name[node] = by_name.get(node, 0) + count
    out["processor-node-process-total"] = per_node
    out["node-process-total"] = by_name
    out["threads"] = {t["thread"]: t for t in threads}
    out["stream-thread-count"] = len(threads)
    return out


def to_frame(metrics: dict[str, Any]) -> Any:
    """The metrics dict as a tidy DataFrame: one row per value, columns
    ``group``, ``name``, ``tags`` (dict), ``value``."""
    import pandas as pd

    rows: list[dict[str, Any]] = []
    for name, value in metrics.items():
        if name == "threads":
            for thread, values in value.items():
                for metric, v in values.items():
                    if metric != "thread":
                        rows.append({"group": "stream-thread-metrics", "name": metric,
                                     "tags": {"thread-id": thread}, "value": v})
        elif name == "records-lag":
            for (topic, partition), lag in sorted(value.items()):
                rows.append({"group": "consumer-fetch-manager-metrics", "name": "records-lag",
                             "tags": {"topic": topic, "partition": partition}, "value": lag})
        elif name == "dropped-records":
            for reason, count in sorted(value.items()):
                rows.append({"group": "task-metrics", "name": "dropped-records-total",
                             "tags": {"reason": reason}, "value": count})
        elif name == "processor-node-process-total":
            for (thread, task, node), count in sorted(value.items()):
                rows.append({"group": NODE_GROUP, "name": "process-total",
                             "tags": {"thread-id": thread, "task-id": task,
                                      "processor-node-id": node}, "value": count})
        elif name == "node-process-total":
            continue  # the same counts as the rows above, summed per node name
        elif name == "store-sizes":
            for store, size in sorted(value.items()):
                rows.append({"group": "state-store-metrics", "name": "num-entries",
                             "tags": {"store": store}, "value": size})
        else:
            rows.append({"group": "stream-metrics", "name": name, "tags": {}, "value": value})
    return pd.DataFrame(rows, columns=["group", "name", "tags", "value"])
