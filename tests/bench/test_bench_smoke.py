"""bench/run.py end to end in its smallest form: the in-process level, quick data, no peers.

Checks that the command runs, prints its tables and writes one JSON file whose shape the
docs describe (per workload, per system: runs, median, min, max, ratio to the reference).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_quick_in_process_writes_tables_and_json(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--only", "in-process",
         "--no-peers", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "in process, no broker" in out.stdout
    files = list(tmp_path.glob("*-quick.json"))
    assert len(files) == 1
    report = json.loads(files[0].read_text())
    assert report["quick"] is True and report["runs"] == 1
    assert isinstance(report["machine"]["load_average_1m_at_start"], float)
    level = report["levels"]["in-process"]
    assert [t["workload"] for t in level["tables"]] == [
        "wordcount", "windowed", "stream_table", "stream_stream"]
    for table in level["tables"]:
        systems = {s["system"]: s for s in table["systems"]}
        assert set(systems) == {"python dict loop (reference)", "streamnb engine"}
        assert systems["python dict loop (reference)"]["ratio"] == 1.0
        engine = systems["streamnb engine"]
        assert engine["min"] <= engine["median"] <= engine["max"]
        assert engine["median"] > 0 and engine["ratio"] > 0
        run = engine["runs"][0]
        assert run["peak_rss_mb"] > 0 and run["startup_s"] > 0
        # every system saw the whole input: the engine's output count is the workload's
        if table["workload"] == "wordcount":
            assert run["outputs"] == table["units"]
    stream_stream = {s["system"]: s for s in level["tables"][3]["systems"]}
    assert (stream_stream["streamnb engine"]["runs"][0]["outputs"]
            == stream_stream["python dict loop (reference)"]["runs"][0]["outputs"])
