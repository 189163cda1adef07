"""Errors of the broker layer, named after their Kafka counterparts.

They subclass the built-in exception a caller would naturally catch (ConnectionError,
LookupError, RuntimeError) as well as StreamsException, so both styles of handling work.
"""

from __future__ import annotations

from streamnb.errors import StreamsException


class BrokerNotAvailableException(StreamsException, ConnectionError):
    """No Kafka broker answered at the address tried."""


class MissingSourceTopicException(StreamsException, LookupError):
    """A topic the app needs does not exist and streamnb may not create it."""


class EmbeddedBrokerException(StreamsException, RuntimeError):
    """The embedded broker could not be started."""
