"""Shared pieces of the benchmarks: seeded data, peak RSS, an in-process engine runner."""

from __future__ import annotations

import gc
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
        # Per-topic queues of (key, value, timestamp) for fused sinks to repartition topics.
        self.queues: dict[str, list[tuple[Any, Any, int]]] = {}
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

    def sink_inline(self, topic: str, key_serde: Any, value_serde: Any, partitioner: Any,
                    sink_name: Any) -> Any:
        """Let fused code append records itself: (append function, tuple fields)."""
        if topic in self.readable:
            return self.queues.setdefault(topic, []).append, ("key", "value", "timestamp")
        return self.outputs.setdefault(topic, []).append, ("key", "value", "timestamp")

    def send_changelog(self, topic: str, partition: int, key: Any, value: Any, timestamp: int,
                       key_serde: Any, value_serde: Any) -> None:
        self.changelog_records += 1

    def send_changelog_pairs(self, topic: str, partition: int, items: Any, now: int,
                             key_serde: Any, value_serde: Any) -> None:
        """A commit's changes of one timestamped store in one call, as the runtime's
        collector takes them (record_collector.py); with no broker they are counted."""
        self.changelog_records += len(items)


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

    def run(self, topic: str, records: list[tuple[Any, Any, int]], batch_size: int = 1
            ) -> None:
        """Run ``records`` of ``topic``; after every ``batch_size`` input records, drain the
        records written to repartition topics (FIFO per topic), as a consumer would. Cyclic
        GC is paused during each such poll batch, as the runtime's stream thread pauses it
        (runtime/stream_thread.py: reference counting frees a batch's garbage; a collection
        runs, if due, between batches)."""
        task = self.task
        entries = {t: task.source_entry(t) for t in task.source_topics}
        batches = {t: task.batch_entry(t) for t in task.source_topics}
        queues = {t: self.collector.queues.setdefault(t, []) for t in task.source_topics}
        pending = self.collector.pending
        run_input = batches[topic]
        drain = [(batches[t], queues[t]) for t in task.source_topics if t != topic]
        pause_gc = gc.isenabled()
        for start in range(0, len(records), batch_size):
            if pause_gc:  # as the stream thread does: no cyclic GC inside a poll batch
                gc.disable()
            try:
                run_input(records[start:start + batch_size])
                busy = True
                while busy:
                    busy = False
                    for run_batch, queue in drain:
                        if queue:
                            run_batch(queue)  # records appended meanwhile are run too
                            queue.clear()
                            busy = True
                    while pending:  # sinks that were not fused
                        t, k, v, ts = pending.popleft()
                        entries[t](k, v, ts)
                        busy = True
            finally:
                if pause_gc:
                    gc.enable()
        task.commit()
