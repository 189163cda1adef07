"""Interactive Queries v2 for streamnb: query app state in process, across instances and
over REST, plus the app's Prometheus metrics, health checks and structured logs.

```python
from streamnb.query import StateQueryRequest, KeyQuery
result = streams.query(StateQueryRequest.in_store("counts").with_query(KeyQuery.with_key("kafka")))
result.get_only_partition_result().result
```
"""

from .fanout import FanoutError, RangePage, range_across_instances
from .local import UnknownStateStoreException
from .metadata import HostInfo, KeyQueryMetadata, StreamsMetadata
from .position import Position, PositionBound
from .queries import (
    KeyQuery,
    MultiVersionedKeyQuery,
    Query,
    RangeQuery,
    ResultOrder,
    TimestampedKeyQuery,
    TimestampedRangeQuery,
    VersionedKeyQuery,
    WindowKeyQuery,
    WindowRangeQuery,
)
from .requests import StateQueryRequest
from .results import FailureReason, QueryResult, StateQueryResult

__all__ = [
    "FailureReason",
    "FanoutError",
    "HostInfo",
    "KeyQuery",
    "KeyQueryMetadata",
    "MultiVersionedKeyQuery",
    "Position",
    "PositionBound",
    "Query",
    "QueryResult",
    "RangePage",
    "RangeQuery",
    "ResultOrder",
    "StateQueryRequest",
    "StateQueryResult",
    "StreamsMetadata",
    "TimestampedKeyQuery",
    "TimestampedRangeQuery",
    "UnknownStateStoreException",
    "VersionedKeyQuery",
    "WindowKeyQuery",
    "WindowRangeQuery",
    "range_across_instances",
]
