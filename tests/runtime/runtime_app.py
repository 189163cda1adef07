"""A word-count app process for the multi-process runtime tests.

    python tests/runtime/runtime_app.py BOOTSTRAP APP_ID STATE_DIR GUARANTEE IN OUT

Prints ``STATE <state>`` on every transition and ``TASKS <ids>`` once a second, and runs
until killed or until its stdin closes (then it closes cleanly).
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import logging  # noqa: E402

logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(threadName)s %(message)s")
from streamnb import KafkaStreams, Materialized, StreamsBuilder  # noqa: E402


def main() -> None:
    bootstrap, app_id, state_dir, guarantee, source, sink = sys.argv[1:7]
    builder = StreamsBuilder()
    (
        builder.stream(source)
        .flat_map_values(lambda line: line.lower().split())
        .group_by(lambda _key, word: word)
        .count(materialized=Materialized.as_("counts"))
        .to_stream()
        .to(sink)
    )
    streams = KafkaStreams(builder.build(), {
        "application.id": app_id,
        "bootstrap.servers": bootstrap,
        "state.dir": state_dir,
        "processing.guarantee": guarantee,
        "commit.interval.ms": 100,
        "default.key.serde": "string",
        "default.value.serde": "string",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "streamnb.consume.batch.size": 500,
        # Static membership: a restarted instance takes its place in the group at once
        # (noida-db does not evict a SIGKILLed member after session.timeout.ms).
        "group.instance.id": f"{app_id}-{Path(state_dir).name}",
    })
    streams.set_state_listener(lambda new, old: print(f"STATE {new}", flush=True))
    streams.start()

    def report() -> None:
        while True:
            tasks = sorted(t for m in streams.local_thread_metadata() for t in m["active_tasks"])
            print(f"TASKS {','.join(tasks)}", flush=True)
            time.sleep(0.5)

    threading.Thread(target=report, daemon=True).start()
    sys.stdin.read()  # until the parent closes our stdin
    streams.close(30)
    print("CLOSED", flush=True)


if __name__ == "__main__":
    main()
