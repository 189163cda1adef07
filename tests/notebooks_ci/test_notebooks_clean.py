"""The notebooks are committed clean (no outputs) and follow the rules that keep nbval stable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text("utf-8"))["cells"]


def _source(cell: dict) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(notebook: Path) -> None:
    for index, cell in enumerate(_cells(notebook)):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{notebook.name} cell {index} has outputs"
            assert cell.get("execution_count") is None, f"{notebook.name} cell {index} ran"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_checks_what_it_teaches(notebook: Path) -> None:
    code = [_source(c) for c in _cells(notebook) if c["cell_type"] == "code"]
    asserts = sum(1 for source in code if "assert " in source)
    assert asserts >= 3, f"{notebook.name} has only {asserts} cells with assert"
    assert not any("NBVAL_" in source for source in code), "use cell tags, not NBVAL comments"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_magics_are_loaded_and_on_line_one(notebook: Path) -> None:
    code = [_source(c) for c in _cells(notebook) if c["cell_type"] == "code"]
    uses_magics = [s for s in code if "%%stream" in s or "%stream" in s]
    if not uses_magics:
        return
    first = next(i for i, s in enumerate(code) if "%stream" in s)
    assert any("%load_ext streamnb" in s for s in code[:first]), "load the extension first"
    for source in code:
        if "%%stream" in source:
            assert source.startswith("%%stream "), "a %%stream magic must be the cell's line one"
    starts = sum(s.count("%stream start") for s in code)
    stops = sum(s.count("%stream stop") for s in code)
    assert stops >= starts, f"{notebook.name} starts {starts} apps but stops {stops}"
