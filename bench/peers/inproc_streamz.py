"""streamz in process, run by bench/run.py in bench/.venvs/streamz.

Expressed: wordcount (map -> flatten -> accumulate with a dict state -> sink). Not
expressed: windowed (streamz has no event-time windows or grace), the joins (its
zip/combine_latest are not keyed; a keyed join would be a hand-written dict inside
accumulate, i.e. the dict loop again).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _child import load, peak_rss_mb, report, spawned_at, spec  # noqa: E402

t0 = spawned_at()
from streamz import Stream  # noqa: E402


def count(state: dict, word: str):
    n = state.get(word, 0) + 1
    state[word] = n
    return state, (word, n)


def main() -> None:
    args = spec()
    if args["workload"] != "wordcount":
        raise SystemExit(f"streamz cannot express {args['workload']}")
    startup = time.perf_counter() - t0
    lines = load(args["data"])
    ready = peak_rss_mb()
    out: list = []
    start = time.perf_counter()
    source = Stream()
    (source.map(lambda line: line.lower().split()).flatten()
     .accumulate(count, start={}, returns_state=True).sink(out.append))
    emit = source.emit
    for line in lines:
        emit(line)
    seconds = time.perf_counter() - start
    report(seconds=seconds, outputs=len(out), startup_s=startup, ready_rss_mb=ready)


if __name__ == "__main__":
    main()
