"""Faust (faust-streaming) word count end to end (bench/.venvs/faust).

lines agent: split, send each word keyed by itself to a words topic (the repartition hop);
words agent: Table[word] += 1, send the count to the output topic. In-memory tables
(changelogged to the broker), at-least-once (Faust's default guarantee).

broker_max_poll_records bounds each fetch. Faust's default (None) lets one aiokafka
getmany() hand back every buffered record (about 1 MB, ~13,000 lines, per input partition).
Faust's single fetch loop then awaits room in the split agent's 4096-event queue line by
line for that whole batch (minutes here, at 10 awaited sends per line) before it calls
getmany() again, so the words already fetched for the count agent wait in aiokafka's
buffer and nothing reaches the output for the whole 90 s timeout. With small batches the
fetch loop comes back often and Faust's own flow control (a full queue takes the lines
partitions out of the fetch) lets the words through.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _child import FirstSeen, exit_on_stop, spawned_at, spec  # noqa: E402

t0 = spawned_at()
import faust  # noqa: E402


def main() -> None:
    args = spec()
    first = FirstSeen()
    app = faust.App(args["app_id"], broker=f"kafka://{args['bootstrap']}", store="memory://",
                    topic_partitions=3, datadir=args["state_dir"], web_enabled=False,
                    consumer_auto_offset_reset="earliest",
                    broker_max_poll_records=500)
    lines = app.topic(args["input"], key_type=bytes, value_type=bytes,
                      key_serializer="raw", value_serializer="raw")
    words = app.topic(f"{args['app_id']}-words", key_type=str, value_type=str,
                      key_serializer="raw", value_serializer="raw", partitions=3)
    output = app.topic(args["output"], key_serializer="raw", value_serializer="raw")
    counts = app.Table("counts", default=int, partitions=3)

    @app.agent(lines)
    async def split(stream):
        async for line in stream:
            first()
            for word in line.decode().lower().split():
                await words.send(key=word, value=word)

    @app.agent(words)
    async def count(stream):
        async for word in stream:
            counts[word] += 1
            await output.send(key=word.encode(), value=str(counts[word]).encode())

    exit_on_stop(lambda: {"first_at": first.at,
                          "startup_s": None if first.at is None else first.at - t0})
    logging.getLogger().setLevel(logging.WARNING)
    worker = faust.Worker(app, loglevel="WARNING", quiet=True)
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
