"""Bytewax word count end to end with its Kafka connector (bench/.venvs/bytewax).

KafkaSource (all partitions, from the beginning; no consumer group) -> split -> key_on
word -> stateful_map count -> KafkaSink. One worker, so no repartition hop (Bytewax routes
keys between workers itself). At-least-once at best (no recovery configured).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _child import FirstSeen, exit_on_stop, spawned_at, spec  # noqa: E402

t0 = spawned_at()
import bytewax.operators as op  # noqa: E402
from bytewax.connectors.kafka import KafkaSink, KafkaSinkMessage, KafkaSource  # noqa: E402
from bytewax.dataflow import Dataflow  # noqa: E402
from bytewax.testing import run_main  # noqa: E402


def main() -> None:
    args = spec()
    first = FirstSeen()
    flow = Dataflow("wordcount")
    msgs = op.input("lines", flow, KafkaSource([args["bootstrap"]], [args["input"]],
                                               tail=True, batch_size=5000))

    def split(msg) -> list[str]:
        first()
        return msg.value.decode().lower().split()

    def count(state, _word):
        state = (state or 0) + 1
        return state, state

    words = op.key_on("key", op.flat_map("split", msgs, split), lambda word: word)
    counts = op.stateful_map("count", words, count)
    out = op.map("encode", counts,
                 lambda kv: KafkaSinkMessage(kv[0].encode(), str(kv[1]).encode()))
    op.output("out", out, KafkaSink([args["bootstrap"]], args["output"]))
    exit_on_stop(lambda: {"first_at": first.at,
                          "startup_s": None if first.at is None else first.at - t0})
    run_main(flow)


if __name__ == "__main__":
    main()
