"""Interactive-query latency on a 1,000,000-key store while the app processes a steady
input stream: key queries in process (``KafkaStreams.query``) and over the REST API.

    python bench/bench_query.py [--keys 1000000] [--rate 50000] [--queries 20000]

A table store is loaded with ``--keys`` keys from a 2-partition topic on a fresh noida-db;
then a producer thread writes ``--rate`` updates/s of random keys while random key queries
run. Prints p50/p99 latency of both paths and the processing rate reached meanwhile.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from confluent_kafka import Producer  # noqa: E402

from streamnb import KafkaStreams, Materialized, StreamsBuilder  # noqa: E402
from streamnb.broker import ensure_topics, start_noida  # noqa: E402
from streamnb.query import KeyQuery, StateQueryRequest  # noqa: E402

TOPIC = "bench-query-kv"


def key_of(index: int) -> str:
    return f"k{index:07d}"


def load(bootstrap: str, keys: int) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random",
                         "linger.ms": 20, "batch.num.messages": 10_000,
                         "queue.buffering.max.messages": 2_000_000})
    for index in range(keys):
        while True:
            try:
                producer.produce(TOPIC, b"0", key_of(index).encode())
                break
            except BufferError:
                producer.poll(0.05)
    producer.flush(120)


def steady(bootstrap: str, keys: int, rate: int, stop: Any, sent: Any) -> None:
    """Produce ``rate`` updates per second in 10 ms slices until ``stop`` (its own process,
    so that producing does not compete with the app for this process's GIL)."""
    producer = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random",
                         "linger.ms": 5, "queue.buffering.max.messages": 2_000_000})
    rng = random.Random(7)
    per_slice = max(1, rate // 100)
    next_at = time.monotonic()
    value = b"1"
    while not stop.is_set():
        for _ in range(per_slice):
            try:
                producer.produce(TOPIC, value, key_of(rng.randrange(keys)).encode())
            except BufferError:
                producer.poll(0.01)
        sent.value += per_slice
        producer.poll(0)
        next_at += 0.01
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    producer.flush(30)


def rest_client(address: str, keys: int, n: int, out: Any) -> None:
    """Time ``n`` REST key queries over one keep-alive connection (its own process, as a
    real client would be)."""
    host, port = address.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    rng = random.Random(13)
    samples = []
    for _ in range(n):
        path = f"/v1/stores/kv-store/key?key={key_of(rng.randrange(keys))}"
        t0 = time.perf_counter_ns()
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        samples.append(time.perf_counter_ns() - t0)
        if response.status != 200:
            raise SystemExit(f"REST query failed: {response.status} {body!r}")
    conn.close()
    out.put(samples)


def percentiles(samples_ns: list[int]) -> tuple[float, float, float]:
    ordered = sorted(samples_ns)
    p50 = ordered[len(ordered) // 2] / 1e3
    p99 = ordered[int(len(ordered) * 0.99)] / 1e3
    return p50, p99, statistics.fmean(ordered) / 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--rate", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=20_000)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="streamnb-bench-query-"))
    broker = start_noida(workdir / "broker", reuse_running=False)
    streams = None
    try:
        bootstrap = broker.bootstrap_servers
        ensure_topics(bootstrap, {TOPIC: 2})
        started = time.monotonic()
        load(bootstrap, args.keys)
        print(f"produced {args.keys:,} keys in {time.monotonic() - started:.1f} s")
        builder = StreamsBuilder()
        builder.table(TOPIC, materialized=Materialized.as_("kv-store"))
        streams = KafkaStreams(builder.build(), {
            "application.id": "bench-query", "bootstrap.servers": bootstrap,
            "state.dir": str(workdir / "state"), "default.key.serde": "string",
            "default.value.serde": "string", "commit.interval.ms": 1000,
            "application.server": "127.0.0.1:0",
        })
        started = time.monotonic()
        streams.start()
        while streams.store("kv-store").approximate_num_entries() < args.keys if (
                streams.state().name in ("RUNNING", "REBALANCING")) else True:
            if time.monotonic() - started > 300:
                raise SystemExit("the store did not fill up within 300 s")
            time.sleep(0.2)
        print(f"store loaded: {args.keys:,} keys in {time.monotonic() - started:.1f} s")

        ctx = multiprocessing.get_context("spawn")
        stop = ctx.Event()
        sent = ctx.Value("q", 0)
        feeder = ctx.Process(target=steady, args=(bootstrap, args.keys, args.rate, stop, sent),
                             daemon=True)
        feeder.start()
        time.sleep(3.0)  # let the stream settle at the target rate
        rng = random.Random(11)
        processed_before = streams.metrics()["process-total"]
        window_start = time.monotonic()

        in_process = []
        for _ in range(args.queries):
            request = StateQueryRequest.in_store("kv-store").with_query(
                KeyQuery.with_key(key_of(rng.randrange(args.keys))))
            t0 = time.perf_counter_ns()
            result = streams.query(request)
            found = result.get_only_partition_result()
            in_process.append(time.perf_counter_ns() - t0)
            assert found is not None and found.result is not None

        results = ctx.Queue()
        client = ctx.Process(target=rest_client, args=(streams.rest_address, args.keys,
                                                        max(1, args.queries // 4), results))
        client.start()
        over_rest = results.get(timeout=600)
        client.join(30)
        elapsed = time.monotonic() - window_start
        processed = streams.metrics()["process-total"] - processed_before
        stop.set()
        feeder.join(30)

        p50, p99, mean = percentiles(in_process)
        print(f"in-process KeyQuery : n={len(in_process):,} p50={p50:.1f} us "
              f"p99={p99:.1f} us mean={mean:.1f} us")
        p50, p99, mean = percentiles(over_rest)
        print(f"REST /key (keep-alive): n={len(over_rest):,} p50={p50:.1f} us "
              f"p99={p99:.1f} us mean={mean:.1f} us")
        print(f"while querying: processed {processed:,} records in {elapsed:.1f} s = "
              f"{processed / elapsed:,.0f} records/s (target {args.rate:,}/s, "
              f"offered {sent.value:,} in total)")
    finally:
        if streams is not None:
            streams.close(30)
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
