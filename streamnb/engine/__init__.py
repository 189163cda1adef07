"""The engine: tasks that run sub-topologies, their contexts, nodes and punctuation."""

from .node import Node
from .task import Task, changelog_topic, internal_topic

__all__ = ["Node", "Task", "changelog_topic", "internal_topic"]
