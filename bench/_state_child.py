"""One state run in its own process (so its peak RSS is its own), spawned by bench/run.py.

phase "build": a count per key (group_by_key().count() into an in-memory or persistent
store, logged to its changelog) over the input topic; the harness watches the output and
says stop, then we close cleanly (flushing the changelog).
phase "restore": the same app id with an empty state.dir: start() restores the store
from the changelog; we report start() -> RUNNING and the keys the store then holds.
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
from bench_e2e import make_streams  # noqa: E402

from streamnb import Materialized, StreamsBuilder  # noqa: E402
from streamnb.runtime.states import State  # noqa: E402


def topology(input_topic: str, output: str, store_type: str, on_record=None):
    builder = StreamsBuilder()
    stream = builder.stream(input_topic)
    if on_record is not None:
        stream = stream.peek(lambda _key, _value: on_record())
    (stream.group_by_key()
     .count(materialized=Materialized.as_("bench-store").with_store_type(store_type))
     .to_stream().to(output))
    return builder.build()


def main() -> None:
    args = spec()
    logging.getLogger("streamnb").setLevel(logging.WARNING)
    first = FirstSeen() if args["phase"] == "build" else None
    # A short session timeout: a restarted member must not wait out the 45 s default for
    # the build instance's old membership (that would be group timing, not restoration).
    streams = make_streams(topology(args["input"], args["output"], args["store_type"], first),
                           args["bootstrap"], Path(args["state_dir"]), "at_least_once",
                           args["app_id"], **{"session.timeout.ms": "6000"})
    if args["phase"] == "build":
        streams.start()
        wait_for_stop()
        fields = {"first_at": first.at, "startup_s": None if first.at is None else first.at - t0}
        streams.close(120)
        report(**fields)
        return
    started = time.perf_counter()
    streams.start()
    deadline = time.monotonic() + args["timeout"]
    keys = None
    while time.monotonic() < deadline:  # RUNNING with the whole store back
        if streams.state() is State.RUNNING:
            keys = streams.store("bench-store").approximate_num_entries()
            if keys >= args["expected"]:
                break
        time.sleep(0.02)
    restored = time.perf_counter() - started
    fields = {"restore_s": restored if keys == args["expected"] else None, "keys": keys,
              "running_after_s": streams.running_after_s,
              "startup_s": time.perf_counter() - t0}
    report(**fields)
    streams.close(60)


if __name__ == "__main__":
    main()
