"""Node, store and topic names: Kafka's default names and its rules for legal names."""

from __future__ import annotations

import re

from ..errors import TopologyException

MAX_NAME_LENGTH = 249
_LEGAL = re.compile(r"^[a-zA-Z0-9._-]+$")


def validate_name(name: object, what: str = "name") -> str:
    """Check a user-given name as Kafka's ``Named.validate`` does: [a-zA-Z0-9._-], at most 249
    chars; the messages are Kafka's (``what`` only says what kind of name a non-str was)."""
    if not isinstance(name, str):
        raise TopologyException(f"{what} must be a str, got {type(name).__name__} {name!r}")
    label = "Topic name" if what.lower().startswith("topic") else "Name"
    if not name:
        raise TopologyException(f"{label} is illegal, it can't be empty")
    if name in (".", ".."):
        raise TopologyException(f'{label} cannot be "." or ".."')
    if len(name) > MAX_NAME_LENGTH:
        raise TopologyException(
            f"{label} is illegal, it can't be longer than {MAX_NAME_LENGTH} characters, "
            f"{label.lower() if label == 'Name' else label}: {name}"
        )
    if not _LEGAL.match(name):
        raise TopologyException(
            f'{label} "{name}" is illegal, it contains a character other than ASCII '
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
