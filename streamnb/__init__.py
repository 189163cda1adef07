"""streamnb: Kafka Streams for Python, at home in a notebook.

The names here are the public contract (see docs/): the DSL (``StreamsBuilder``), the
Processor API, windows, the test driver and ``KafkaStreams``. Heavy parts (the runtime, the
notebook layer) load on first use, so ``import streamnb`` stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .dsl import (
    Branched,
    Consumed,
    Grouped,
    Materialized,
    Named,
    Produced,
    Repartitioned,
    StreamsBuilder,
)
from .processor import (
    Headers,
    KeyValue,
    Processor,
    ProcessorContext,
    PunctuationType,
    Record,
)
from .serde import Serde, Serdes
from .state import Stores
from .state._base import ValueAndTimestamp
from .testing import TestRecord, TopologyTestDriver
from .topology import Topology

__version__ = "0.1.0"

_LAZY = {
    "KafkaStreams": "streamnb.runtime",
    "StreamsConfig": "streamnb.runtime",
    "TimeWindows": "streamnb.dsl.windows",
    "SlidingWindows": "streamnb.dsl.windows",
    "SessionWindows": "streamnb.dsl.windows",
    "JoinWindows": "streamnb.dsl.windows",
    "Windowed": "streamnb.dsl.windows",
    "Window": "streamnb.dsl.windows",
    "Suppressed": "streamnb.dsl.suppress",
    "EmitStrategy": "streamnb.dsl.windows",
}

__all__ = [
    "Branched",
    "Consumed",
    "EmitStrategy",
    "Grouped",
    "Headers",
    "JoinWindows",
    "KafkaStreams",
    "KeyValue",
    "Materialized",
    "Named",
    "Processor",
    "ProcessorContext",
    "Produced",
    "PunctuationType",
    "Record",
    "Repartitioned",
    "Serde",
    "Serdes",
    "SessionWindows",
    "SlidingWindows",
    "Stores",
    "StreamsBuilder",
    "StreamsConfig",
    "Suppressed",
    "TestRecord",
    "TimeWindows",
    "Topology",
    "TopologyTestDriver",
    "ValueAndTimestamp",
    "Window",
    "Windowed",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'streamnb' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext streamnb``: register the ``%%stream`` and ``%stream`` magics."""
    from .notebook.magics import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .notebook.magics import unload_ipython_extension as unload

    unload(ipython)
