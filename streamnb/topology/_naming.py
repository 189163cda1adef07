"""Node, store and topic names: Kafka's default names and its rules for legal names."""

from __future__ import annotations

import re

from ..errors import TopologyException

MAX_NAME_LENGTH = 249
_LEGAL = re.compile(r"^[a-zA-Z0-9._-]+$")


def validate_name(name: object, what: str = "name") -> str:
    """Check a user-given name as Kafka's ``Named`` does: [a-zA-Z0-9._-], at most 249 chars."""
    if not isinstance(name, str):
        raise TopologyException(f"{what} must be a str, got {type(name).__name__} {name!r}")
    if not name:
        raise TopologyException(f"{what} is illegal, it can't be empty")
    if name in (".", ".."):
        raise TopologyException(f"{what} cannot be \".\" or \"..\"")
    if len(name) > MAX_NAME_LENGTH:
        raise TopologyException(
            f"{what} {name[:40]!r}... is illegal, it can't be longer than {MAX_NAME_LENGTH} "
            f"characters (it has {len(name)})"
        )
    if not _LEGAL.match(name):
        raise TopologyException(
            f"{what} {name!r} is illegal, it contains a character other than ASCII "
            "alphanumerics, '.', '_' and '-'"
        )
    return name


class NameGenerator:
    """Kafka's default names: ``PREFIX`` plus a 10-digit counter shared by nodes and stores."""

    def __init__(self) -> None:
        self._index = 0

    def next_index(self) -> int:
        index = self._index
        self._index += 1
        return index

    def processor_name(self, prefix: str) -> str:
        """E.g. ``KSTREAM-FILTER-0000000003``."""
        return f"{prefix}{self.next_index():010d}"

    def store_name(self, prefix: str) -> str:
        """E.g. ``KSTREAM-AGGREGATE-STATE-STORE-0000000003``."""
        return f"{prefix}STATE-STORE-{self.next_index():010d}"
