"""One end-to-end word count run of streamnb (KafkaStreams on the harness's broker), or of
the plain confluent-kafka loop, in its own process; spawned by bench/run.py.

Both reuse bench_e2e.py (its topology and KafkaStreams settings, its plain loop). The
harness watches the output topic itself and writes a line to our stdin when the last
update is visible; we then report when the first input record reached the application.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE / "peers")]

from _child import FirstSeen, report, spawned_at, spec, wait_for_stop  # noqa: E402

t0 = spawned_at()
import bench_e2e  # noqa: E402  (imports streamnb and confluent_kafka: part of start-up)


def main() -> None:
    args = spec()
    first = FirstSeen()
    logging.getLogger("streamnb").setLevel(logging.WARNING)
    if args["system"] == "plain":
        produced = bench_e2e.plain_loop(args["bootstrap"], args["input"], args["output"],
                                        args["expected"], args["timeout"], on_batch=first)
        wait_for_stop()
        report(first_at=first.at, startup_s=None if first.at is None else first.at - t0,
               produced=produced)
        return
    extra = {"num.stream.threads": str(args.get("threads", 1))}
    streams = bench_e2e.make_streams(
        bench_e2e.wordcount_topology(args["input"], args["output"], on_line=first),
        args["bootstrap"], Path(args["state_dir"]), args["guarantee"], args["app_id"], **extra)
    streams.start()
    wait_for_stop()
    fields = {"first_at": first.at, "startup_s": None if first.at is None else first.at - t0,
              "running_after_s": streams.running_after_s}
    report(**fields)
    closed = time.perf_counter()
    streams.close(30)
    sys.stdout.write(f"closed in {time.perf_counter() - closed:.2f} s\n")


if __name__ == "__main__":
    main()
