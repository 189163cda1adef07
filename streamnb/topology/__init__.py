"""The topology graph and its description."""

from .description import TopologyDescription
from .topology import Subtopology, Topology

__all__ = ["Subtopology", "Topology", "TopologyDescription"]
