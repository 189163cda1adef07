"""Start, stop, restart and reset notebook apps; the status table.

Each function returns the sentence the magic prints, so the same calls work from plain Python
(``streamnb.notebook.control.start_app(app, {...})``) and from ``%stream``.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from . import apps
from .apps import NotebookApp

__all__ = ["start_app", "stop_app", "restart_app", "reset_app", "drop_app", "status_frame"]

_CLOSE_TIMEOUT = 30.0


def _kafka_streams() -> Any:
    from ..runtime import KafkaStreams

    return KafkaStreams


def _new_streams(app: NotebookApp) -> Any:
    if app.topology is None:
        raise ValueError(
            f"app {app.app_id!r} has no topology yet: run a cell starting with "
            f"%%stream {app.app_id} first")
    return _kafka_streams()(app.topology, dict(app.config))


def start_app(app: NotebookApp, options: dict[str, Any] | None = None) -> tuple[Any, str]:
    """Start ``app`` with ``options`` (KafkaStreams config keys); return (streams, message)."""
    with app.lock:
        if app.running:
            return app.streams, (f"{app.app_id} is already running "
                                 f"({app.state_name()}); %stream stop {app.app_id} first "
                                 "to change its configuration")
        config = dict(app.config)
        config.update(options or {})
        given = config.get("application.id", app.app_id)
        if given != app.app_id:
            raise ValueError(
                f"--application.id={given} differs from the app id {app.app_id!r}: the %%stream "
                "app id is the application.id; leave the option out")
        config["application.id"] = app.app_id
        # The topology drawing shows records per node: the engine counts them only at
        # DEBUG, as Kafka records processor-node metrics (a user's INFO is kept).
        config.setdefault("metrics.recording.level", "DEBUG")
        previous = app.config
        app.config = config
        try:
            streams = _new_streams(app)
        except BaseException:
            app.config = previous
            raise
        streams.start()
        app.streams = streams
        app.running_topology = app.topology
    app.notify("started")
    where = getattr(streams, "bootstrap_servers", None)
    return streams, (f"{app.app_id} started on {where or 'the configured broker'} "
                     f"({app.state_name()})")


def stop_app(app: NotebookApp, timeout: float = _CLOSE_TIMEOUT) -> str:
    with app.lock:
        streams = app.streams
        if streams is None or not app.running:
            return f"{app.app_id} is not running"
        streams.close(timeout=timeout)
    app.notify("stopped")
    return f"{app.app_id} stopped ({app.state_name()})"


def restart_app(app: NotebookApp, reason: str,
                namespace: MutableMapping[str, Any] | None = None) -> str:
    """Replace the running instance with one on the current topology.

    The new instance is made before the old one closes, so a topology or config the runtime
    refuses leaves the old app running (and the message says why). Names in ``namespace``
    that held the old instance are re-bound to the new one.
    """
    with app.lock:
        old = app.streams
        if old is None or not app.running:
            return f"{app.app_id} is not running; %stream start {app.app_id} to run it"
        ran = app.running_topology
        old_stores = set(ran.stores) if ran is not None else None
        try:
            new = _new_streams(app)
        except Exception as exc:
            return (f"{app.app_id} cannot restart with the new topology ({exc}); it keeps "
                    "running the previous one")
        old.close(timeout=_CLOSE_TIMEOUT)
        new.start()
        app.streams = new
        app.running_topology = app.topology
        rebound = []
        if namespace is not None:
            for name, value in list(namespace.items()):
                if value is old and not name.startswith("_"):
                    namespace[name] = new
                    rebound.append(name)
    app.notify("restarted")
    parts = [f"{app.app_id} restarted with the new topology ({reason})."]
    if rebound:
        parts.append(f"{', '.join(rebound)} now refer(s) to the new instance.")
    if old_stores is not None and app.topology is not None:
        gone = sorted(old_stores - set(app.topology.stores))
        added = sorted(set(app.topology.stores) - old_stores)
        if gone or added:
            parts.append(
                f"Store names changed (removed: {gone or 'none'}; added: {added or 'none'}): "
                "new stores start empty. Name stores with Materialized.as_('name') to keep "
                "their state across edits.")
    return " ".join(parts)


def reset_app(app: NotebookApp) -> str:
    """Stop ``app`` and delete its local state (Kafka's ``KafkaStreams.cleanUp()``)."""
    stopped = stop_app(app)
    streams = app.streams
    if streams is None:
        if app.topology is None:
            return f"{app.app_id} has no topology and no state"
        streams = _new_streams(app)
    clean = getattr(streams, "clean_up", None) or getattr(streams, "cleanup", None)
    if clean is None:
        raise RuntimeError("this KafkaStreams has no clean_up(): cannot delete local state")
    clean()
    app.streams = None
    app.notify("stopped")
    return f"{stopped}; local state of {app.app_id} deleted"


def drop_app(app: NotebookApp) -> str:
    message = stop_app(app)
    for key in list(app.cells):
        apps.set_cell_owner(key, None)
    apps.registry().pop(app.app_id, None)
    return f"{message}; app {app.app_id} forgotten"


def status_frame() -> Any:
    """One row per app: cells, nodes, stores, state, broker."""
    import pandas as pd

    rows = []
    for app in apps.registry().values():
        topology = app.topology
        rows.append({
            "app": app.app_id,
            "cells": len(app.cells),
            "nodes": len(topology.nodes) if topology is not None else 0,
            "stores": ", ".join(topology.stores) if topology is not None else "",
            "state": app.state_name(),
            "bootstrap.servers": getattr(app.streams, "bootstrap_servers", None),
        })
    return pd.DataFrame(rows, columns=["app", "cells", "nodes", "stores", "state",
                                       "bootstrap.servers"])
