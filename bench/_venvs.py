"""Peer systems in their own virtual environments under bench/.venvs/ (gitignored).

The peers (Bytewax, streamz, Faust, Quix Streams) are never dependencies of streamnb, and
Quix Streams pins an older confluent-kafka than streamnb uses, so each peer gets its own
venv, created and filled by the bench command itself with pip from the package index.
A stamp file records what was installed, so later runs skip pip when nothing changed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

VENVS = Path(__file__).resolve().parent / ".venvs"

# Exact versions, so a rerun measures the same peers.
PEERS: dict[str, list[str]] = {
    "bytewax": ["bytewax[kafka]==0.21.1"],
    "streamz": ["streamz==0.6.6"],
    "faust": ["faust-streaming==0.15.3"],
    "quix": ["quixstreams==3.28.1"],
}


def python_of(peer: str) -> Path:
    return VENVS / peer / "bin" / "python"


def ensure_venv(peer: str, log: Path | None = None) -> tuple[Path | None, str]:
    """Create/fill ``peer``'s venv; returns (its python, "") or (None, why it failed)."""
    requirements = PEERS[peer]
    home = VENVS / peer
    stamp = home / "streamnb-bench.json"
    python = python_of(peer)
    if python.exists() and stamp.exists() and json.loads(stamp.read_text()) == requirements:
        return python, ""
    try:
        if not python.exists():
            venv.EnvBuilder(with_pip=True, clear=True).create(home)
        out = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *requirements],
            capture_output=True, text=True, timeout=1200,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"could not create the venv: {exc}"
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(out.stdout + out.stderr)
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
        return None, "pip install failed: " + " | ".join(tail)
    stamp.write_text(json.dumps(requirements))
    return python, ""


if __name__ == "__main__":
    for name in sys.argv[1:] or PEERS:
        py, why = ensure_venv(name)
        print(name, py or why, flush=True)
