"""Fixtures for the broker tests: one shared noida-db, and an isolated embedded broker."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # so that ``tests._kafka`` imports under plain ``pytest`` too
    sys.path.insert(0, str(ROOT))

from streamnb.broker import embedded, stop_embedded_broker  # noqa: E402
from tests._kafka import noida_broker  # noqa: E402


@pytest.fixture(scope="module")
def kafka():
    """A fresh noida-db shared by the tests of one module."""
    with noida_broker() as broker:
        yield broker


@pytest.fixture
def fresh_embedded(monkeypatch, tmp_path):
    """A clean slate for ``embedded_broker()``: no env override, stopped afterwards."""
    monkeypatch.delenv(embedded.ENV_VAR, raising=False)
    stop_embedded_broker()
    yield tmp_path
    stop_embedded_broker()
