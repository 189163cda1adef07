"""Fixtures of the runtime tests: a fresh noida-db per module, helpers to run apps."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # so that ``tests._kafka`` imports under plain ``pytest`` too
    sys.path.insert(0, str(ROOT))

from tests._kafka import noida_broker  # noqa: E402


@pytest.fixture(scope="module")
def kafka():
    """A fresh noida-db shared by the tests of one module."""
    with noida_broker() as broker:
        yield broker
