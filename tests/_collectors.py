"""A record collector for engine tests that run a ``Task`` directly (no driver, no broker).

Usage from any test folder::

    from tests._collectors import ListCollector

    collector = ListCollector()              # or ListCollector(inline=True)
    task = Task("0_0", topology, group, collector, "app")
"""

from __future__ import annotations

from typing import Any


class ListCollector:
    """Keeps sink output in ``out`` and changelog records in ``changelog``, both as
    ``(topic, key, value, timestamp)``. ``inline=True`` also offers fused sinks the list's
    ``append`` (the engine's ``sink_inline`` protocol), so generated code appends directly."""

    def __init__(self, inline: bool = False) -> None:
        self.out: list[tuple] = []
        self.changelog: list[tuple] = []
        if inline:
            self.sink_inline = lambda topic, *rest: (self.out.append,
                                                     ("topic", "key", "value", "timestamp"))

    def send(self, topic: str, key: Any, value: Any, timestamp: int, *rest: Any) -> None:
        self.out.append((topic, key, value, timestamp))

    def send_changelog(self, topic: str, partition: int, key: Any, value: Any, timestamp: int,
                       *serdes: Any) -> None:
        self.changelog.append((topic, key, value, timestamp))
