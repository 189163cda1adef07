"""Exceptions raised by streamnb, named after their Kafka Streams counterparts.

Each message says what was wrong and how to fix it: a stream app fails far from the line
that caused it, so the error has to carry the context.
"""

from __future__ import annotations


class StreamsException(Exception):
    """Base class of every streamnb error."""


class TopologyException(StreamsException, ValueError):
    """The topology is invalid: a bad name, a missing parent, a store nobody can reach.

    As in Kafka, the message starts with ``"Invalid topology: "``.
    """

    def __init__(self, message: object = None, *args: object) -> None:
        text = "Invalid topology" if message is None else str(message)
        if not text.startswith("Invalid topology"):
            text = "Invalid topology: " + text
        super().__init__(text, *args)


class InvalidStateStoreException(StreamsException):
    """A state store cannot be used: it does not exist, or it is closed."""


class SerializationException(StreamsException):
    """A key or value could not be serialized or deserialized by its serde."""


class ProcessorStateException(StreamsException):
    """A state store failed while reading or writing its data."""


class NoSuchElementException(StreamsException, LookupError):
    """A single-record read on an empty test output topic (as Kafka's driver raises)."""
