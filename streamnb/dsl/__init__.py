"""The DSL: StreamsBuilder, KStream, KTable, grouped streams and their options."""

from . import _fusion_rules, _fusion_windowed  # noqa: F401 - register how DSL operators fuse
from .builder import StreamsBuilder
from .grouped import KGroupedStream, KGroupedTable
from .kstream import BranchedKStream, KStream
from .ktable import KTable
from .options import Branched, Consumed, Grouped, Materialized, Named, Produced, Repartitioned

__all__ = [
    "Branched",
    "BranchedKStream",
    "Consumed",
    "Grouped",
    "KGroupedStream",
    "KGroupedTable",
    "KStream",
    "KTable",
    "Materialized",
    "Named",
    "Produced",
    "Repartitioned",
    "StreamsBuilder",
]
