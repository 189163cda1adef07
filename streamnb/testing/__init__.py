"""TopologyTestDriver and its test topics: test a topology with no broker."""

from .driver import TopologyTestDriver
from .records import TestRecord
from .topics import TestInputTopic, TestOutputTopic

__all__ = ["TestInputTopic", "TestOutputTopic", "TestRecord", "TopologyTestDriver"]
