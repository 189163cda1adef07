"""The README's two set-up commands are the ones the docs teach, and Binder is linked."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETUP_COMMANDS = [
    'python3.11 -m pip install -e . && python3.11 -m streamnb.examples.wordcount',
    'python3.11 -m pip install -e ".[test]" && python3.11 -m pytest',
]


def test_readme_keeps_its_two_commands() -> None:
    lines = [line.strip() for line in (ROOT / "README.md").read_text("utf-8").splitlines()]
    for command in SETUP_COMMANDS:
        assert command in lines, f"README.md lost its set-up command: {command}"


def test_getting_started_uses_the_same_commands() -> None:
    page = (ROOT / "docs" / "getting-started.md").read_text("utf-8")
    for command in SETUP_COMMANDS:
        assert command in page


def test_readme_links_binder_to_jupyterlab_on_the_notebooks() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert "https://mybinder.org/badge_logo.svg" in readme
    assert "?urlpath=lab/tree/notebooks" in readme
