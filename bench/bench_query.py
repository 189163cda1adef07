"""Interactive-query latency on a 1,000,000-key store while the app processes a steady
input stream, the processing rate it keeps meanwhile, and the cost of paged range reads.

    python bench/bench_query.py [--keys 1000000] [--rate 50000] [--seconds 20]
                                [--qps 1000] [--rest-qps 500] [--connections 4]
                                [--closed]
    python bench/bench_query.py --paging [--keys 1000000]
    python bench/bench_query.py --gil [--seconds 5] [--rest-qps 500]
    python bench/bench_query.py --rest-cpu

A table store is loaded with ``--keys`` keys from a 2-partition topic on a fresh noida-db;
then a producer process writes ``--rate`` updates/s of random keys. Phases of ``--seconds``
each: no queries (the processing rate the app reaches alone), in-process key queries paced
at ``--qps``, REST key queries paced at ``--rest-qps`` from another process (over
``--connections`` keep-alive connections sharing one open-loop schedule), and with
``--closed`` both again as tight loops (every spare cycle goes to queries). Each phase
prints the query p50/p99/mean, the rate served over the client's own query window (and
over the phase's wall time, which includes starting the client process), the schedule's
slots given up when more than 100 ms behind, the processing rate and this process's CPU.

``--paging`` needs no broker: it times one page of 100 (first page, and from a cursor in
the middle) on ``--keys`` keys, for the full-scan page (the previous implementation, kept
as ``paging.scan_page``) and the cursor page, on an in-memory and a sqlite store.

``--gil`` needs no broker either: REST latency and throughput next to one busy Python
thread, with the REST server's switch interval at 5 ms (Python's default) and at its own.

``--rest-cpu``: the REST server's CPU per key query, the real handler of a small idle app
fed 5,000 requests from memory (no sockets, no client), median of 5 rounds; then the CPU
of an in-process ``streams.query(KeyQuery)`` on the same app (both partitions local).

Each broker phase also says whether the app kept up with the offered rate (then the
processed rate is NOT its capacity), drained a backlog, or was saturated (lag grew: the
processed rate is its capacity while queried), and the CPU it spent per record.
"""

from __future__ import annotations

import argparse
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


class _Schedule:
    """Open-loop pacing at ``qps`` (0: none) for ``seconds``, measured by the client itself.

    WHY: the phase's wall clock includes starting the client process (a spawned Python
    importing streamnb: 1-3 s on a loaded host), so queries/phase time under-reported the
    served rate; and a loop more than 100 ms behind gives up its owed slots, which must be
    counted, not hidden. ``take()`` hands out the next slot (thread-safe, for several
    connections); ``summary()`` gives answers per second of the client's own window and
    the slots given up."""

    def __init__(self, seconds: float, qps: float) -> None:
        import threading

        self.interval = 1.0 / qps if qps else 0.0
        self.started = time.monotonic()
        self.end = self.started + seconds
        self.next_at = self.started
        self.skipped = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Wait for the next slot; False once the window is over."""
        with self._lock:
            now = time.monotonic()
            if now >= self.end:
                return False
            if not self.interval:
                return True
            due = self.next_at + self.interval
            floor = now - 0.1
            if due < floor:  # more than 100 ms behind: give those slots up, counted
                self.skipped += int((floor - due) / self.interval)
                due = floor
            self.next_at = due
        delay = due - now
        if delay > 0:
            time.sleep(delay)
        return True

    def summary(self, samples: list[int]) -> dict[str, Any]:
        return {"samples": samples, "window": time.monotonic() - self.started,
                "skipped": self.skipped}


class _KeepAliveClient:
    """A minimal HTTP/1.1 keep-alive GET client for the REST phases.

    WHY not http.client: it parses every response's headers with the email package; here
    it took ~550 us of CPU per request against ~230 us for this client (3,000 keep-alive
    GETs to a local server, process time), and the client shares the two cores with the
    app being measured, where a real client would run elsewhere. This one sends a fixed request
    line and reads the status, Content-Length and body, nothing more. It raises on what
    it does not handle (no Content-Length, a closed connection), so nothing goes unseen."""

    def __init__(self, host: str, port: int) -> None:
        import socket

        self._sock = socket.create_connection((host, port), timeout=30)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._rfile = self._sock.makefile("rb")
        self._host = f"Host: {host}:{port}\r\n".encode()

    def get(self, path: str) -> tuple[int, bytes]:
        self._sock.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\n" + self._host + b"\r\n")
        readline = self._rfile.readline
        status_line = readline(65537)
        if not status_line:
            raise ConnectionError("the REST server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length = None
        while True:
            line = readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise ValueError(f"a response without Content-Length: {status_line!r}")
        return status, self._rfile.read(length)

    def close(self) -> None:
        self._rfile.close()
        self._sock.close()


def rest_client(address: str, keys: int, seconds: float, qps: float, out: Any,
                fixed_path: str | None = None, connections: int = 1) -> None:
    """REST key queries for ``seconds`` paced at ``qps`` (0: as fast as answers come), in
    its own process as a real client would be, over ``connections`` keep-alive
    connections taking turns on one schedule (open loop: a slow answer on one connection
    does not hold back the requests due meanwhile, as it would not with many users)."""
    import threading

    host, port = address.removeprefix("http://").split(":")
    samples: list[int] = []
    failures: list[str] = []
    schedule = _Schedule(seconds, qps)

    def worker(seed: int) -> None:
        conn = _KeepAliveClient(host, int(port))
        rng = random.Random(seed)
        while not failures and schedule.take():
            path = fixed_path or f"/v1/stores/kv-store/key?key={key_of(rng.randrange(keys))}"
            t0 = time.perf_counter_ns()
            status, body = conn.get(path)
            samples.append(time.perf_counter_ns() - t0)  # list.append: atomic
            if status != 200:
                failures.append(f"REST query failed: {status} {body!r}")
        conn.close()

    workers = [threading.Thread(target=worker, args=(13 + i,)) for i in range(connections)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    if failures:
        raise SystemExit(failures[0])
    out.put(schedule.summary(samples))


def in_process(streams: Any, keys: int, seconds: float, qps: float) -> dict[str, Any]:
    """In-process key queries for ``seconds`` paced at ``qps`` (0: a tight loop)."""
    rng = random.Random(11)
    samples = []
    schedule = _Schedule(seconds, qps)
    while schedule.take():
        request = StateQueryRequest.in_store("kv-store").with_query(
            KeyQuery.with_key(key_of(rng.randrange(keys))))
        t0 = time.perf_counter_ns()
        found = streams.query(request).get_only_partition_result()
        samples.append(time.perf_counter_ns() - t0)
        assert found is not None and found.result is not None
    return schedule.summary(samples)


def percentiles(samples_ns: list[int]) -> tuple[float, float, float]:
    ordered = sorted(samples_ns)
    p50 = ordered[len(ordered) // 2] / 1e3
    p99 = ordered[int(len(ordered) * 0.99)] / 1e3
    return p50, p99, statistics.fmean(ordered) / 1e3


def bench_paging(keys: int) -> None:
    from contextlib import nullcontext

    from streamnb.query import paging
    from streamnb.query.queries import NO_CURSOR
    from streamnb.state.memory import InMemoryKeyValueStore
    from streamnb.state.persistent import PersistentKeyValueStore

    rng = random.Random(5)
    order = list(range(keys))
    rng.shuffle(order)
    workdir = Path(tempfile.mkdtemp(prefix="streamnb-bench-paging-"))
    memory = InMemoryKeyValueStore("m")
    memory.init()
    sqlite = PersistentKeyValueStore("p", max_dirty_entries=200_000)
    sqlite.init(workdir / "p")
    for i in order:
        memory.put(key_of(i), (i, 0))
        sqlite.put(key_of(i), (i, 0))
    sqlite.flush()
    for i in order[:1000]:  # some writes not flushed yet, as between two commits
        sqlite.put(key_of(i), (i, 1))
    middle = key_of(keys // 2)
    lock = nullcontext()

    def timed(fn: Any, n: int) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(n):
            page = fn()
        assert len(page) == 100
        return ((time.perf_counter() - wall) / n * 1e3, (time.process_time() - cpu) / n * 1e3)

    print(f"one page of 100 on {keys:,} str keys (ms per page, wall / CPU):")
    for name, store in (("in-memory", memory), ("sqlite", sqlite)):
        for where, after in (("first page", NO_CURSOR), ("after middle key", middle)):
            scan = timed(lambda s=store, a=after: paging.scan_page(s, lock, None, None, False,
                                                                   a, 100), 3)
            if store is memory:
                built = time.perf_counter()
                paging.dict_page(store, store._data, None, None, False, after, 100, "v")
                first = (time.perf_counter() - built) * 1e3
                cursor = timed(lambda s=store, a=after: paging.dict_page(
                    s, s._data, None, None, False, a, 100, "v"), 200)
                extra = (f" (+ the sorted snapshot, built once per store version: "
                         f"{first:.0f} ms)" if after is NO_CURSOR else "")
            else:
                cursor = timed(lambda s=store, a=after: paging.sql_page(
                    s, lock, None, None, False, a, 100), 200)
                extra = ""
            print(f"  {name:<9} {where:<16} full scan {scan[0]:8.1f} / {scan[1]:8.1f}   "
                  f"cursor {cursor[0]:7.3f} / {cursor[1]:7.3f}{extra}")
    ints = PersistentKeyValueStore("i", max_dirty_entries=200_000)
    ints.init(workdir / "i")
    for i in order:
        ints.put(i, (i, 0))
    ints.flush()
    builds = paging.stats["builds"]
    first = time.perf_counter()
    paging.sql_page(ints, lock, None, None, False, NO_CURSOR, 100)
    first = (time.perf_counter() - first) * 1e3
    scan = timed(lambda: paging.scan_page(ints, lock, None, None, False, keys // 2, 100), 3)
    cursor = timed(lambda: paging.sql_page(ints, lock, None, None, False, keys // 2, 100),
                   200)
    for i in order[:1000]:  # rows written since the sorted key list: caught up, not rebuilt
        ints.put(keys + i, (i, 1))
    ints.flush()
    caught = timed(lambda: paging.sql_page(ints, lock, None, None, False, keys // 2, 100),
                   200)
    assert paging.stats["builds"] == builds + 1
    print(f"  {'sqlite int':<9} after middle key full scan {scan[0]:8.1f} / {scan[1]:8.1f}   "
          f"cursor {cursor[0]:7.3f} / {cursor[1]:7.3f} (+ the sorted key list, built once: "
          f"{first:.0f} ms; after 1,000 new rows: {caught[0]:.3f} / {caught[1]:.3f})")
    ints.close()
    memory.close()
    sqlite.close()
    shutil.rmtree(workdir, ignore_errors=True)


def bench_gil(seconds: float, qps: float) -> None:
    """The GIL hand-off cost alone, without a broker: the real REST server (health
    endpoint) next to a pure-Python busy thread standing in for the stream thread, with
    the server's switch interval at Python's 5 ms and at the one it uses, interleaved."""
    import threading
    from types import SimpleNamespace

    from streamnb.query import rest as rest_module

    class _Streams:
        client_id = "bench-gil"

        def state(self) -> str:
            return "RUNNING"

    server = rest_module.RestServer(SimpleNamespace(streams=_Streams()), "127.0.0.1", 0,
                                    None)
    server.start()
    ctx = multiprocessing.get_context("spawn")
    default = server.switch_interval_s
    try:
        for round_ in range(2):
            for interval in (0.005, default):
                server.switch_interval_s = interval  # read by each new connection
                done = threading.Event()
                count = [0]

                def busy(done: threading.Event = done, count: list[int] = count) -> None:
                    table: dict[int, int] = {}
                    n = 0
                    while not done.is_set():
                        for i in range(1000):
                            table[i] = table.get(i, 0) + n
                        n += 1
                    count[0] = n * 1000
                worker = threading.Thread(target=busy, daemon=True)
                cpu0, t0 = time.process_time(), time.monotonic()
                worker.start()
                results = ctx.Queue()
                client = ctx.Process(target=rest_client, args=(
                    server.url, 0, seconds, qps, results, "/health/live"))
                client.start()
                answered = results.get(timeout=seconds + 60)
                samples = answered["samples"]
                client.join(30)
                done.set()
                worker.join()
                elapsed = time.monotonic() - t0
                cpu = time.process_time() - cpu0
                p50, p99, _ = percentiles(samples)
                print(f"round {round_ + 1} switch {interval * 1e3:>4.1f} ms: REST "
                      f"{len(samples) / answered['window']:>5,.0f}/s of {qps:g} p50={p50:>7.1f} us "
                      f"p99={p99:>9.1f} us | busy thread {count[0] / elapsed / 1e6:5.2f} M "
                      f"ops/s, {count[0] / max(cpu, 1e-9) / 1e6:5.2f} M ops per CPU-s",
                      flush=True)
    finally:
        server.stop()


def bench_rest_cpu(requests: int, profile: bool = False) -> None:
    """CPU of the REST server per key query, without sockets or a client: the real handler
    of a real app (a 1,000-key table on noida-db, idle) reads ``requests`` keep-alive
    requests from memory and writes its answers to memory, in a loop in this thread;
    ``time.thread_time`` of the loop, so other threads and processes do not count."""
    import io

    workdir = Path(tempfile.mkdtemp(prefix="streamnb-bench-restcpu-"))
    broker = start_noida(workdir / "broker", reuse_running=False)
    streams = None
    try:
        bootstrap = broker.bootstrap_servers
        ensure_topics(bootstrap, {TOPIC: 2})
        load(bootstrap, 1000)
        builder = StreamsBuilder()
        builder.table(TOPIC, materialized=Materialized.as_("kv-store"))
        streams = KafkaStreams(builder.build(), {
            "application.id": "bench-rest-cpu", "bootstrap.servers": bootstrap,
            "state.dir": str(workdir / "state"), "default.key.serde": "string",
            "default.value.serde": "string", "application.server": "127.0.0.1:0"})
        streams.start()
        started = time.monotonic()
        while streams.state().name != "RUNNING" or (
                streams.store("kv-store").approximate_num_entries() < 1000):
            if time.monotonic() - started > 120:
                raise SystemExit("the store did not fill up within 120 s")
            time.sleep(0.1)
        server = streams._query_service.rest
        handler = server._server.RequestHandlerClass
        rng = random.Random(3)
        data = b"".join(
            f"GET /v1/stores/kv-store/key?key={key_of(rng.randrange(1000))} HTTP/1.1\r\n"
            "Host: 127.0.0.1\r\nAccept-Encoding: identity\r\n\r\n".encode()
            for _ in range(requests))
        rounds = []
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
        for _ in range(5):
            h = handler.__new__(handler)
            # a socket's rfile is a BufferedReader: read through one, as the server does
            h.rfile, h.wfile = io.BufferedReader(io.BytesIO(data)), io.BytesIO()
            h.client_address, h.close_connection = ("127.0.0.1", 0), False
            cpu = time.thread_time()
            if profiler is not None:
                profiler.enable()
            for _ in range(requests):
                h.handle_one_request()
            if profiler is not None:
                profiler.disable()
            rounds.append((time.thread_time() - cpu) / requests * 1e6)
            answered = h.wfile.getvalue().count(b"HTTP/1.1 200 OK")
            if answered != requests:
                raise SystemExit(f"only {answered} of {requests} requests answered 200")
        print(f"REST key query, server CPU per request (thread_time, {requests:,} requests "
              f"per round): median {statistics.median(rounds):.1f} us, rounds "
              + ", ".join(f"{r:.1f}" for r in rounds))
        inproc = []
        requests_in = [StateQueryRequest.in_store("kv-store").with_query(
            KeyQuery.with_key(key_of(rng.randrange(1000)))) for _ in range(requests)]
        for _ in range(5):
            cpu = time.thread_time()
            for request in requests_in:
                streams.query(request)
            inproc.append((time.thread_time() - cpu) / requests * 1e6)
        print(f"in-process streams.query(KeyQuery) over both local partitions, CPU per "
              f"query: median {statistics.median(inproc):.1f} us, rounds "
              + ", ".join(f"{r:.1f}" for r in inproc))
        if profiler is not None:
            import pstats

            stats = pstats.Stats(profiler)
            print("(under cProfile: the figures above include its overhead; Python "
                  f"function calls per request: {stats.total_calls / (5 * requests):.1f})")
            stats.sort_stats("tottime").print_stats(30)
    finally:
        if streams is not None:
            streams.close(30)
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--rate", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--qps", type=float, default=1000.0)
    parser.add_argument("--rest-qps", type=float, default=500.0)
    parser.add_argument("--connections", type=int, default=4,
                        help="keep-alive connections the paced REST client spreads its "
                             "schedule over (1: the previous serial client)")
    parser.add_argument("--closed", action="store_true",
                        help="also run tight query loops (closed loop)")
    parser.add_argument("--switch-ms", type=float, default=None,
                        help="sys.setswitchinterval for the app process (default: Python's 5)")
    parser.add_argument("--rest-switch-ms", type=float, default=None,
                        help="streamnb.rest.switch.interval.ms: the switch interval the REST "
                             "server sets while a connection is open (default 0.5; 5 = off, "
                             "for A/B)")
    parser.add_argument("--only", default="",
                        help="comma-separated phases to run: idle,inproc,rest (default all)")
    parser.add_argument("--gil", action="store_true",
                        help="REST latency next to a busy thread only (no broker), A/B of "
                             "the REST switch interval")
    parser.add_argument("--rest-cpu", action="store_true",
                        help="server CPU per REST key query only (small app, no client)")
    parser.add_argument("--profile", action="store_true",
                        help="with --rest-cpu: print the handler's cProfile (top 30)")
    parser.add_argument("--paging", action="store_true",
                        help="time paged range reads only (no broker)")
    args = parser.parse_args()
    if args.paging:
        bench_paging(args.keys)
        return
    if args.gil:
        bench_gil(args.seconds, args.rest_qps)
        return
    if args.rest_cpu:
        bench_rest_cpu(5000, args.profile)
        return
    if args.switch_ms is not None:
        sys.setswitchinterval(args.switch_ms / 1000.0)
    only = {p.strip() for p in args.only.split(",") if p.strip()} or {"idle", "inproc", "rest"}
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
            **({} if args.rest_switch_ms is None else {
                "streamnb.rest.switch.interval.ms": args.rest_switch_ms}),
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

        def lag() -> int:
            """Records produced but not processed yet (approximate: ``sent`` counts
            records handed to the producer, some may still be in flight)."""
            return args.keys + sent.value - streams.metrics()["process-total"]

        def phase(name: str, run: Any) -> None:
            processed_before = streams.metrics()["process-total"]
            sent_before, lag_before = sent.value, lag()
            cpu_before, started = time.process_time(), time.monotonic()
            answered = run()
            elapsed = time.monotonic() - started
            cpu = time.process_time() - cpu_before
            processed = streams.metrics()["process-total"] - processed_before
            offered = (sent.value - sent_before) / elapsed
            lag_after = lag()
            line = f"{name:<28}"
            if answered:
                samples = answered["samples"]
                p50, p99, mean = percentiles(samples)
                # the rate over the client's own query window (the phase also counts
                # starting the client process), and the schedule's slots it gave up
                line += (f" n={len(samples):>7,} ({len(samples) / answered['window']:>6,.0f}/s"
                         f"; {len(samples) / elapsed:,.0f}/s of the phase's wall time; "
                         f"{answered['skipped']:,} slots skipped) p50={p50:>8.1f} us "
                         f"p99={p99:>10.1f} us mean={mean:>8.1f} us")
            else:
                line += " " * 97
            # Honest processing figures: the processed rate is capped by the offered rate
            # when the app keeps up, and exceeds it while a backlog drains; only a growing
            # lag means the app was saturated (processed = its capacity while queried).
            if lag_after - lag_before > offered * 0.5:
                verdict = "SATURATED (processed = capacity)"
            elif lag_before - lag_after > offered * 0.5:
                verdict = "draining backlog (rate > offered)"
            else:
                verdict = "keeping up (capacity not reached)"
            per_record = 1e6 * cpu / processed if processed else float("nan")
            print(f"{line} | processed {processed / elapsed:>7,.0f} rec/s of "
                  f"{offered:>7,.0f} offered, lag {lag_before:>9,} -> {lag_after:>9,} "
                  f"{verdict} | app CPU {100 * cpu / elapsed:4.0f}% "
                  f"({per_record:.1f} us/rec)", flush=True)

        def rest(qps: float, connections: int) -> dict[str, Any]:
            results = ctx.Queue()
            client = ctx.Process(target=rest_client, args=(
                streams.rest_address, args.keys, args.seconds, qps, results, None,
                connections))
            client.start()
            answered = results.get(timeout=args.seconds + 120)
            client.join(30)
            return answered

        print(f"phases of {args.seconds:.0f} s, offered {args.rate:,} rec/s:")
        if "idle" in only:
            phase("no queries", lambda: time.sleep(args.seconds) or {})
        if "inproc" in only:
            phase(f"in-process paced {args.qps:g}/s",
                  lambda: in_process(streams, args.keys, args.seconds, args.qps))
        if "rest" in only:
            phase(f"REST paced {args.rest_qps:g}/s, {args.connections} conn",
                  lambda: rest(args.rest_qps, args.connections))
        if args.closed:
            phase("in-process tight loop",
                  lambda: in_process(streams, args.keys, args.seconds, 0))
            phase("REST tight loop, 1 conn", lambda: rest(0, 1))
        stop.set()
        feeder.join(30)
        print(f"offered {sent.value:,} records in total")
    finally:
        if streams is not None:
            streams.close(30)
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
