"""Every example notebook runs top to bottom in a fresh kernel under nbval, as CI runs them.

Each notebook gets its own ``pytest --nbval-lax`` subprocess (a fresh kernel, the options of
notebook-testing.md), so ``python -m pytest`` covers the notebooks without changing the
repository-wide pytest options. The notebooks check what they teach in ``assert`` cells, which
nbval's lax mode fails on.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# The whole set must stay under five minutes; one notebook gets a generous share of that.
PER_NOTEBOOK_BUDGET_S = 150


def test_there_are_notebooks() -> None:
    names = [p.name for p in NOTEBOOKS]
    for required in ("01_word_count.ipynb", "09_processor_api.ipynb",
                     "10_testing_topologies.ipynb"):
        assert required in names


@pytest.mark.timeout(PER_NOTEBOOK_BUDGET_S + 60)
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_under_nbval(notebook: Path) -> None:
    pytest.importorskip("nbval", reason="nbval is not installed: pip install -e '.[test]'")
    pytest.importorskip("ipykernel", reason="ipykernel is not installed: pip install -e '.[test]'")
    command = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
               "--nbval-cell-timeout=120", "-p", "no:cacheprovider", "-q",
               str(notebook.relative_to(ROOT))]
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                            timeout=PER_NOTEBOOK_BUDGET_S + 30)
    took = time.monotonic() - started
    report = (result.stdout + result.stderr)[-6000:]
    assert result.returncode == 0, f"{notebook.name} failed under nbval:\n{report}"
    assert " passed" in result.stdout, report
    assert took < PER_NOTEBOOK_BUDGET_S, f"{notebook.name} took {took:.0f} s"
