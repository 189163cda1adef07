"""The configuration reference lists every StreamsConfig key with its real default."""

from __future__ import annotations

import re
from pathlib import Path

from streamnb.runtime.config import STREAMS_DEFAULTS

PAGE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
_ROW = re.compile(r"^\| `([^`]+)` \| ([^|]*) \|", re.MULTILINE)


def _rows() -> dict[str, str]:
    return {key: default.strip() for key, default in _ROW.findall(PAGE.read_text("utf-8"))}


def test_every_key_is_documented() -> None:
    missing = [key for key in STREAMS_DEFAULTS if key not in _rows()]
    assert not missing, f"docs/configuration.md lacks rows for {missing}"


def test_no_documented_key_is_unknown() -> None:
    extra = [key for key in _rows() if key not in STREAMS_DEFAULTS]
    assert not extra, f"docs/configuration.md documents keys StreamsConfig lacks: {extra}"


def test_documented_defaults_match() -> None:
    rows = _rows()
    for key, default in STREAMS_DEFAULTS.items():
        if default is None or key not in rows:
            continue
        shown = f"`{default}`" if default != "" else '`""`'
        assert rows[key].startswith(shown), f"{key}: docs say {rows[key]}, code has {default!r}"
