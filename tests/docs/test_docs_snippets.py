"""Every ```python block of the docs runs, so the documentation cannot drift from the code.

Blocks of one page run in order in one namespace (a page reads like a session). A page whose
snippets need a streamnb module that is not in the tree yet is skipped with that module's
name; any other failure fails the test.
"""

from __future__ import annotations

import linecache
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
_FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)


def python_blocks(text: str) -> list[str]:
    """The bodies of the ```python fenced blocks of a Markdown text, in order."""
    return [match.group(1) for match in _FENCE.finditer(text)]


def _pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if python_blocks(p.read_text("utf-8")))


def test_fence_extraction() -> None:
    text = "intro\n```python\na = 1\n```\n```bash\nls\n```\n```python title=\"x\"\nb = a\n```\n"
    assert python_blocks(text) == ["a = 1\n", "b = a\n"]


def test_docs_have_snippets() -> None:
    assert len(_pages()) >= 10, "the docs lost their runnable snippets"


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(DOCS)))
def test_page_snippets_run(page: Path) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    for index, block in enumerate(python_blocks(page.read_text("utf-8")), start=1):
        filename = f"{page.relative_to(DOCS)} (python block {index})"
        # Registered so that a failing snippet's traceback shows its lines.
        linecache.cache[filename] = (len(block), None, block.splitlines(True), filename)
        code = compile(block, filename, "exec")
        try:
            exec(code, namespace)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("streamnb."):
                pytest.skip(f"{page.name} block {index} needs {exc.name}, not in the tree yet")
            raise
