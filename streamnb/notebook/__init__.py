"""The notebook layer: ``%%stream`` magics, topology drawings, stores as DataFrames, live
widgets. Names load on first use so that ipywidgets and bokeh stay out of ``import streamnb``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_LAZY = {
    "TopologyView": "streamnb.notebook.topology_view",
    "topology_svg": "streamnb.notebook.topology_view",
    "state_frame": "streamnb.notebook.frames",
    "store_to_frame": "streamnb.notebook.frames",
    "dashboard": "streamnb.notebook.widgets",
    "live_topology": "streamnb.notebook.widgets",
    "store_table": "streamnb.notebook.widgets",
    "windowed_plot": "streamnb.notebook.widgets",
    "lag_view": "streamnb.notebook.widgets",
    "throughput_view": "streamnb.notebook.widgets",
    "status_view": "streamnb.notebook.widgets",
    "load_bokehjs": "streamnb.notebook.widgets",
    "get_app": "streamnb.notebook.apps",
    "produce": "streamnb.notebook.topics",
    "tail_frame": "streamnb.notebook.topics",
    "tail_table": "streamnb.notebook.topics",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'streamnb.notebook' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
