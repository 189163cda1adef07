"""Apps built cell by cell: which cells make up an app, its topology, its running instance.

Why rebuild from scratch: a DSL builder cannot take nodes back out, and Kafka's generated
names (``KSTREAM-FILTER-0000000003``) depend on everything built before. Replaying the app's
cells in order on a fresh ``StreamsBuilder`` whenever one changes gives exactly the topology a
user would get by running the cells once, in order, in a new kernel - so a re-run cell replaces
what it added, and never adds it twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from types import CodeType
from typing import Any

from ..dsl.builder import StreamsBuilder
from ..topology.topology import Topology

__all__ = ["AppCell", "NotebookApp", "registry", "get_app", "find_app_for_streams"]


@dataclass(frozen=True)
class AppCell:
    """One ``%%stream`` cell: its identity, its body and the code compiled from it."""

    key: str
    source: str
    code: CodeType
    label: str  # how messages name the cell ("cell 'abc123'", "cell named 'counts'")


class NotebookApp:
    """An app being built in a notebook: ordered cells -> topology -> (maybe) running streams.

    ``streams`` is the current ``KafkaStreams`` (a restart replaces it); widgets follow the app,
    not one instance, so they keep working across restarts.
    """

    def __init__(self, app_id: str) -> None:
        self.app_id = app_id
        self.cells: dict[str, AppCell] = {}
        self.builder: StreamsBuilder | None = None
        self.topology: Topology | None = None
        self.streams: Any = None
        self.running_topology: Topology | None = None  # what ``streams`` runs
        self.config: dict[str, Any] = {}
        self._listeners: list[Callable[[NotebookApp, str], None]] = []
        self.lock = threading.RLock()

    # -- building ---------------------------------------------------------------------------
    def rebuild(self, cells: dict[str, AppCell], namespace: MutableMapping[str, Any]
                ) -> Topology:
        """Replay ``cells`` in order on a fresh builder, binding ``builder`` in ``namespace``.

        On success the app takes the new cells and topology. On any error the namespace is put
        back as it was (variables the replay re-bound point at the old objects again) and the
        app keeps its previous topology; the error propagates with its traceback.
        """
        __tracebackhide__ = True
        before = dict(namespace)
        builder = StreamsBuilder()
        try:
            for cell in cells.values():
                namespace["builder"] = builder
                exec(cell.code, namespace)  # noqa: S102 - running the user's own cell
            topology = builder.build()
            _check_not_empty(topology, self.app_id)
        except BaseException:
            for name in [k for k in namespace if k not in before]:
                del namespace[name]
            namespace.update(before)
            raise
        namespace["builder"] = builder
        with self.lock:
            self.cells = dict(cells)
            self.builder = builder
            self.topology = topology
        return topology

    def without(self, key: str) -> dict[str, AppCell]:
        return {k: c for k, c in self.cells.items() if k != key}

    # -- running ----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Whether the current instance is started and not yet stopped."""
        streams = self.streams
        if streams is None:
            return False
        return _state_name(streams) not in ("CREATED", "NOT_RUNNING", "ERROR", "PENDING_ERROR")

    def state_name(self) -> str:
        return "NOT_STARTED" if self.streams is None else _state_name(self.streams)

    def on_change(self, listener: Callable[[NotebookApp, str], None]) -> None:
        """Call ``listener(app, event)`` on "started", "restarted", "stopped", "rebuilt"."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[NotebookApp, str], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def notify(self, event: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(self, event)
            except Exception:  # a broken widget must not break the app's lifecycle
                pass

    def __repr__(self) -> str:
        return (f"<NotebookApp {self.app_id!r}: {len(self.cells)} cell(s), "
                f"{self.state_name()}>")


def _check_not_empty(topology: Topology, app_id: str) -> None:
    if not topology.nodes:
        raise ValueError(
            f"app {app_id!r} has an empty topology: a %%stream cell should read a topic, e.g. "
            "builder.stream('input').to('output')"
        )


def _state_name(streams: Any) -> str:
    state = streams.state()
    return str(getattr(state, "name", state)).upper()


_APPS: dict[str, NotebookApp] = {}
_CELL_OWNER: dict[str, str] = {}  # cell key -> app id
_LOCK = threading.Lock()


def registry() -> dict[str, NotebookApp]:
    """Every app of this kernel, by app id (in creation order)."""
    return _APPS


def get_app(app_id: str, create: bool = False) -> NotebookApp:
    """The app ``app_id``; a clear error naming the known apps if it does not exist."""
    with _LOCK:
        app = _APPS.get(app_id)
        if app is None:
            if not create:
                known = ", ".join(sorted(_APPS)) or "none yet"
                raise KeyError(
                    f"no app {app_id!r} in this kernel (apps: {known}); build one with a cell "
                    f"starting with %%stream {app_id}"
                )
            app = _APPS[app_id] = NotebookApp(app_id)
        return app


def cell_owner(key: str) -> str | None:
    return _CELL_OWNER.get(key)


def set_cell_owner(key: str, app_id: str | None) -> None:
    if app_id is None:
        _CELL_OWNER.pop(key, None)
    else:
        _CELL_OWNER[key] = app_id


def find_app_for_streams(streams: Any) -> NotebookApp | None:
    """The notebook app whose current instance is ``streams`` (None for a user-made one)."""
    for app in _APPS.values():
        if app.streams is streams:
            return app
    return None


def forget_all() -> None:
    """Drop every app (used when the extension unloads and by tests); stops none."""
    with _LOCK:
        _APPS.clear()
        _CELL_OWNER.clear()
