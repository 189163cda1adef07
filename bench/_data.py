"""The seeded workloads, generated once per bench run and pickled for the child processes.

Every system reads the very same records from these files (peers' venvs have no streamnb,
so they cannot regenerate them). Loading a file is not timed.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import bench_joins
import bench_windowed
from _common import word_lines

# name -> (what a unit is, full size, --quick size)
SIZES = {
    "wordcount": {"lines": 100_000, "quick_lines": 5_000},
    "windowed": {"records": 1_000_000, "keys": 10_000, "quick_records": 50_000},
    "stream_table": {"records": 1_000_000, "table_keys": 100_000, "quick_records": 50_000,
                     "quick_table_keys": 5_000},
    "stream_stream": {"records": 1_000_000, "keys": 10_000, "quick_records": 50_000},
}

DESCRIPTIONS = {
    "wordcount": "word count: {lines:,} lines x 10 words, 5,000-word vocabulary "
                 "({units:,} words in, one count update out per word)",
    "windowed": "tumbling 1-min count per key: {units:,} records, 10,000 keys, event times "
                "over an hour, 1% late within the 10 s grace",
    "stream_table": "stream-table enrichment join: {units:,} stream records against a "
                    "{table_keys:,}-key table",
    "stream_stream": "stream-stream join, 5 s window: {units:,} records ({half:,} per side), "
                     "10,000 keys",
}


def generate(workload: str, quick: bool) -> tuple[object, dict]:
    """(data, facts) for ``workload``; facts has ``units`` (the records/s denominator)."""
    size = SIZES[workload]
    if workload == "wordcount":
        lines = size["quick_lines"] if quick else size["lines"]
        data = word_lines(lines)
        facts = {"lines": lines, "units": sum(len(line.split()) for line in data),
                 "unit": "words"}
    elif workload == "windowed":
        records = size["quick_records"] if quick else size["records"]
        data = bench_windowed.make_records(records, size["keys"])
        facts = {"units": records, "unit": "records"}
    elif workload == "stream_table":
        records = size["quick_records"] if quick else size["records"]
        table_keys = size["quick_table_keys"] if quick else size["table_keys"]
        data = {"table": [(key, f"customer-{key}") for key in range(table_keys)],
                "stream": bench_joins.stream_table_data(records, table_keys)}
        facts = {"units": records, "table_keys": table_keys, "unit": "records"}
    else:
        records = size["quick_records"] if quick else size["records"]
        data = bench_joins.stream_stream_data(records, size["keys"])
        facts = {"units": records, "half": records // 2, "unit": "records"}
    facts["description"] = DESCRIPTIONS[workload].format(**facts)
    return data, facts


def write(workload: str, quick: bool, directory: Path) -> tuple[Path, dict]:
    data, facts = generate(workload, quick)
    path = directory / f"{workload}.pickle"
    with open(path, "wb") as fh:
        pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return path, facts
