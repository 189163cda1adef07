"""What the runtime needs to know about a broker, whichever implementation runs it."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Broker(Protocol):
    """A Kafka-protocol broker the runtime can talk to.

    The capability flags let the runtime warn instead of silently losing guarantees:
    exactly-once needs both ``supports_transactions`` (offsets committed inside the
    transaction) and ``supports_read_committed`` (aborted records hidden).
    """

    bootstrap_servers: str
    supports_transactions: bool
    supports_read_committed: bool
    kind: str  # "noida" or "mock"

    def is_alive(self) -> bool:
        """Whether the broker still accepts work (cheap; no network round trip)."""
        ...

    def stop(self) -> None:
        """Stop the broker if this process owns it; idempotent."""
        ...
