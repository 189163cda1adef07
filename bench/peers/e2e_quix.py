"""Quix Streams word count end to end (bench/.venvs/quix), at-least-once or exactly-once.

lines -> split (expand) -> group_by(word) (a repartition topic, like streamnb's) ->
stateful count -> output topic. Run by bench/run.py; stops when the harness says so.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _child import FirstSeen, exit_on_stop, spawned_at, spec  # noqa: E402

t0 = spawned_at()
from quixstreams import Application  # noqa: E402


def main() -> None:
    args = spec()
    first = FirstSeen()
    app = Application(
        broker_address=args["bootstrap"],
        consumer_group=args["app_id"],
        auto_offset_reset="earliest",
        processing_guarantee=args["guarantee"],  # "at-least-once" | "exactly-once"
        state_dir=args["state_dir"],
        loglevel=logging.WARNING,
        auto_create_topics=True,
    )
    lines = app.topic(args["input"], value_deserializer="str")
    output = app.topic(args["output"], key_serializer="str", value_serializer="int")

    def split(line: str) -> list[str]:
        first()
        return line.lower().split()

    def count(_word: str, state) -> int:
        n = state.get("n", 0) + 1
        state.set("n", n)
        return n

    sdf = app.dataframe(lines)
    sdf = sdf.apply(split, expand=True)
    sdf = sdf.group_by(lambda word: word, name="word")
    sdf = sdf.apply(count, stateful=True)
    sdf.to_topic(output)
    exit_on_stop(lambda: {"first_at": first.at,
                          "startup_s": None if first.at is None else first.at - t0})
    app.run()


if __name__ == "__main__":
    main()
