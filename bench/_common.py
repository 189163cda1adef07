"""Shared pieces of the benchmarks: seeded data, peak RSS, an in-process engine runner."""

from __future__ import annotations

import random
import resource
from collections import deque
from typing import Any

from streamnb.engine.task import Task
from streamnb.topology.topology import Subtopology, Topology


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def word_lines(lines: int = 100_000, words_per_line: int = 10, vocabulary: int = 5_000,
               seed: int = 42) -> list[str]:
    """The seed word-count workload: ``lines`` lines of words from a seeded vocabulary."""
    rng = random.Random(seed)
    vocab = [f"w{index:04d}" for index in range(vocabulary)]
    return [" ".join(rng.choices(vocab, k=words_per_line)) for _ in range(lines)]


class CapturingCollector:
    """Collects sink output in memory and feeds records for topics the task reads back in
    (repartition topics), as a broker would - but with no serdes: they belong to the edge."""

    def __init__(self) -> None:
        self.outputs: dict[str, list[tuple[Any, Any, int]]] = {}
        self.pending: deque[tuple[str, Any, Any, int, Any]] = deque()
        self.readable: set[str] = set()
        self.changelog_records = 0

    def send(self, topic: str, key: Any, value: Any, timestamp: int, headers: Any,
             key_serde: Any, value_serde: Any, partitioner: Any, sink_name: Any) -> None:
        if topic in self.readable:
            self.pending.append((topic, key, value, timestamp, headers))
        else:
            out = self.outputs.get(topic)
            if out is None:
                out = self.outputs[topic] = []
            out.append((key, value, timestamp))

    def sink_process(self, topic: str, key_serde: Any, value_serde: Any, partitioner: Any,
                     sink_name: Any, ctx: Any) -> Any:
        """One sink as one function: repartition records queue up, others are captured."""
        if topic in self.readable:
            append = self.pending.append

            def to_queue(key: Any, value: Any) -> None:
                append((topic, key, value, ctx.timestamp))

            return to_queue
        append_out = self.outputs.setdefault(topic, []).append

        def to_output(key: Any, value: Any) -> None:
            append_out((key, value, ctx.timestamp))

        return to_output

    def send_changelog(self, topic: str, partition: int, key: Any, value: Any, timestamp: int,
                       key_serde: Any, value_serde: Any) -> None:
        self.changelog_records += 1


class InProcessRunner:
    """Runs a whole topology as one engine task (as the test driver does), without serdes."""

    def __init__(self, topology: Topology, app_id: str = "bench") -> None:
        groups = topology.subtopologies()
        merged = Subtopology(0, [n for g in groups for n in g.nodes], [], [],
                             [s for g in groups for s in g.stores])
        self.collector = CapturingCollector()
        self.collector.readable = {
            topic if topic not in topology.internal_topics else f"{app_id}-{topic}"
            for topic in topology.source_topics}
        self.task = Task("0_0", topology, merged, self.collector, app_id)

    def run(self, topic: str, records: list[tuple[Any, Any, int]]) -> None:
        entries = {t: self.task.source_entry(t) for t in self.task.source_topics}
        run_input = entries[topic]
        pending = self.collector.pending
        popleft = pending.popleft
        for key, value, timestamp in records:
            run_input(key, value, timestamp)
            while pending:
                t, k, v, ts = popleft()
                entries[t](k, v, ts)
        self.task.commit()
