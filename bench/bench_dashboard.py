"""The dashboard's cost and speed: word count throughput with and without the live
dashboard (interleaved runs in one process), and event-to-widget latency at a steady rate.

    python bench/bench_dashboard.py [--lines 20000] [--rounds 3] [--rate 50000,2000] [--seconds 10]

Throughput: ``--lines`` lines of 10 words are produced once to the embedded broker; each run
is a fresh app (new application.id) counting them all, timed from its first processed record
to its last. "on" runs show ``dashboard(streams)`` (status, topology, store table, lag,
throughput views) refreshed by the updater thread, as in a notebook; widgets have no
front end here, so trait changes are serialized by ipywidgets but sent nowhere.

Latency: a child process produces one-word lines at ``--rate`` records/s and, every 100 ms,
the word ``probe`` with its send time; the store table is filtered to ``probe`` and each
change of its HTML trait records when count k became visible. Latency of probe k = that
moment minus its send time (same machine, same clock). Prints p50/p95 and the rate the
producer achieved and the app processed.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import word_lines  # noqa: E402
from bench_e2e import wordcount_topology  # noqa: E402

from streamnb import KafkaStreams  # noqa: E402
from streamnb.broker import embedded_broker  # noqa: E402
from streamnb.notebook import _updater  # noqa: E402
from streamnb.notebook.widgets import StoreTableView, dashboard  # noqa: E402
from streamnb.runtime.clients import TopicProducer  # noqa: E402

PROBE = "probe"
_CHILD = r"""
import sys, time, random
from streamnb.runtime.clients import TopicProducer
bootstrap, topic, rate, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
producer = TopicProducer(bootstrap, linger_ms=5)
vocab = [f"w{i:04d}" for i in range(5000)]
rng = random.Random(1)
tick, sent, probes = 0.01, 0, 0
start = time.monotonic()
next_probe = start
while time.monotonic() - start < seconds:
    now = time.monotonic()
    due = int((now - start) * rate) - sent
    if due > 0:
        producer.send(topic, rng.choices(vocab, k=due))
        sent += due
    if now >= next_probe:
        probes += 1
        stamp = time.time()
        producer.send(topic, ["probe"])
        print(f"probe {probes} {stamp:.6f}", flush=True)
        next_probe += 0.1
    time.sleep(max(0.0, tick - (time.monotonic() - now)))
producer.flush(60)
print(f"done {sent} {time.monotonic() - start:.3f}", flush=True)
"""


def _app(bootstrap: str, topic: str, state_dir: str) -> KafkaStreams:
    app_id = f"dash-{uuid.uuid4().hex[:8]}"
    return KafkaStreams(wordcount_topology(topic, f"{app_id}-out"), {
        "application.id": app_id, "bootstrap.servers": bootstrap, "state.dir": state_dir})


def _throughput_run(bootstrap: str, topic: str, expected: int, with_dashboard: bool,
                    state_dir: str, timeout: float = 300.0) -> tuple[float, int, float, float]:
    """Records/s from the first to the last processed record; widget updates sent; CPU
    seconds of this process over that span (all threads); CPU of the dashboard's updater."""
    streams = _app(bootstrap, topic, state_dir)
    board = None
    streams.start()
    try:
        if with_dashboard:
            board = dashboard(streams, text=False)
        first = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            total = streams.metrics()["process-total"]
            now = time.perf_counter()
            if first is None and total > 0:
                first = (now, total, time.process_time())
            if total >= expected:
                cpu = time.process_time() - first[2]
                updates = sum(getattr(v, "updates", 0) for v in board.views) if board else 0
                widgets_cpu = board.updater.cpu_used if board else 0.0
                return (total - first[1]) / (now - first[0]), updates, cpu, widgets_cpu
            time.sleep(0.01)
        raise TimeoutError(f"processed {total} of {expected} records in {timeout} s")
    finally:
        if board is not None:
            board.close()
        _updater.stop_all()
        streams.close(timeout=30)


def throughput(bootstrap: str, lines: int, rounds: int, state_dir: str) -> None:
    topic = f"dash-in-{uuid.uuid4().hex[:6]}"
    data = word_lines(lines)
    producer = TopicProducer(bootstrap)
    producer.ensure_topic(topic, partitions=1)
    producer.send(topic, data)
    producer.flush(120)
    # Sub-topology 0 processes each line, sub-topology 1 each repartitioned word.
    expected = lines + sum(len(line.split()) for line in data)
    results: dict[bool, list[float]] = {False: [], True: []}
    cpus: dict[bool, list[float]] = {False: [], True: []}
    updates: list[int] = []
    widget_cpu: list[float] = []
    for round_no in range(rounds):
        order = (False, True) if round_no % 2 == 0 else (True, False)
        for with_dashboard in order:
            rate, sent, cpu, wcpu = _throughput_run(bootstrap, topic, expected, with_dashboard,
                                                    state_dir)
            results[with_dashboard].append(rate)
            cpus[with_dashboard].append(cpu * 1e6 / expected)
            if with_dashboard:
                updates.append(sent)
                widget_cpu.append(wcpu)
            print(f"  round {round_no + 1} dashboard {'on ' if with_dashboard else 'off'}: "
                  f"{rate:,.0f} records/s, process CPU {cpu * 1e6 / expected:.1f} us/record"
                  + (f", updater CPU {wcpu:.3f} s, {sent} widget updates" if with_dashboard
                     else ""), flush=True)
    off, on = statistics.median(results[False]), statistics.median(results[True])
    cpu_off, cpu_on = statistics.median(cpus[False]), statistics.median(cpus[True])
    print(f"\nthroughput ({lines:,} lines x 10 words = {expected:,} records processed per run, "
          f"median of {rounds}; {_load()}):")
    print(f"  without dashboard  {off:,.0f} records/s  ({cpu_off:.1f} us CPU/record)")
    print(f"  with dashboard     {on:,.0f} records/s  ({cpu_on:.1f} us CPU/record; "
          f"{updates} widget updates, updater CPU {[round(c, 3) for c in widget_cpu]} s)")
    print(f"  slowdown           {100 * (1 - on / off):.1f} %  wall clock (target <= 10 %)")
    print(f"  CPU cost           {100 * (cpu_on / cpu_off - 1):+.1f} %  process CPU per record "
          "(robust to other load on the machine)")


def _load() -> str:
    try:
        return "load average " + " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "load average unknown"


def _cpu_s(stat_path: str) -> float:
    """User + system CPU seconds from a /proc stat file (nan where there is none)."""
    try:
        fields = Path(stat_path).read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_now(streams: KafkaStreams, broker_pid: int | None) -> tuple[float, ...]:
    """CPU seconds so far: this process, its stream threads, its waited-for children (the
    producer, once it exited), the broker process: the budget the 2 cores must cover."""
    threads = sum(_cpu_s(f"/proc/self/task/{t.native_id}/stat") for t in streams._threads
                  if t.native_id is not None)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    broker = _cpu_s(f"/proc/{broker_pid}/stat") if broker_pid else float("nan")
    return (time.process_time(), threads, children.ru_utime + children.ru_stime, broker)


def latency(bootstrap: str, rate: float, seconds: float, state_dir: str,
            broker_pid: int | None = None) -> None:
    topic = f"dash-lat-{uuid.uuid4().hex[:6]}"
    TopicProducer(bootstrap).ensure_topic(topic, partitions=1)
    streams = _app(bootstrap, topic, state_dir)
    streams.start()
    seen: list[tuple[int, float]] = []  # (probe count visible, wall time)
    try:
        board = dashboard(streams, text=False, top=5)
        table = next(v for v in board.views if isinstance(v, StoreTableView))
        table.filter.value = PROBE
        pattern = re.compile(r"<td>probe</td>\s*<td>(\d+)</td>")

        def observe(change: dict) -> None:
            match = pattern.search(change["new"])
            if match:
                seen.append((int(match.group(1)), time.time()))

        table.html.observe(observe, "value")
        while streams.state().name != "RUNNING":
            time.sleep(0.05)
        child = subprocess.Popen([sys.executable, "-c", _CHILD, bootstrap, topic, str(rate),
                                  str(seconds)], stdout=subprocess.PIPE, text=True)
        sent_at: dict[int, float] = {}
        produced = (0, 1.0)
        started = time.monotonic()
        first_total = streams.metrics()["process-total"]
        cpu_start = _cpu_now(streams, broker_pid)
        for line in child.stdout:
            parts = line.split()
            if parts[0] == "probe":
                sent_at[int(parts[1])] = float(parts[2])
            elif parts[0] == "done":
                produced = (int(parts[1]), float(parts[2]))
        child.wait()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not seen or seen[-1][0] < len(sent_at)):
            time.sleep(0.05)
        processed = streams.metrics()["process-total"] - first_total
        elapsed = time.monotonic() - started
        cpu = [b - a for a, b in zip(cpu_start, _cpu_now(streams, broker_pid), strict=True)]
        board.close()
    finally:
        _updater.stop_all()
        streams.close(timeout=30)
    latencies = []
    for k, t_sent in sent_at.items():
        visible = next((t for count, t in seen if count >= k), None)
        if visible is not None:
            latencies.append((visible - t_sent) * 1000)
    missing = len(sent_at) - len(latencies)
    print("\nevent-to-widget latency at a steady input (target p95 < 1 s):")
    print(f"  asked {rate:,.0f} records/s; producer achieved {produced[0] / produced[1]:,.0f} "
          f"records/s for {produced[1]:.1f} s; the app processed {processed / elapsed:,.0f} "
          f"records/s (both sub-topologies) over {elapsed:.1f} s")
    app_cpu, thread_cpu, child_cpu, broker_cpu = cpu
    print(f"  CPU over that span (cores used; 2 on this machine): app process "
          f"{app_cpu / elapsed:.2f} (stream threads {thread_cpu / elapsed:.2f}, "
          f"{thread_cpu * 1e6 / max(processed, 1):.2f} us/record), producer child "
          f"{child_cpu / elapsed:.2f}, broker {broker_cpu / elapsed:.2f}; {_load()}")
    if latencies:
        cuts = statistics.quantiles(latencies, n=100, method="inclusive")
        print(f"  probes {len(latencies)} (not seen: {missing}); p50 {cuts[49]:,.0f} ms, "
              f"p95 {cuts[94]:,.0f} ms, max {max(latencies):,.0f} ms")
    else:
        print(f"  no probe became visible (of {len(sent_at)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", default="50000,2000",
                        help="input records/s for the latency runs, comma-separated")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    state_dir = tempfile.mkdtemp(prefix="streamnb-bench-dash-")
    broker = embedded_broker(state_dir)
    bootstrap = broker.bootstrap_servers
    broker_pid = getattr(broker, "pid", None)
    print(f"embedded broker at {bootstrap}", flush=True)
    if not args.skip_throughput:
        throughput(bootstrap, args.lines, args.rounds, state_dir)
    if not args.skip_latency:
        for rate in args.rate.split(","):
            latency(bootstrap, float(rate), args.seconds, state_dir, broker_pid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
