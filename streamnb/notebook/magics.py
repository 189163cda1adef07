"""``%%stream`` and ``%stream``: build apps cell by cell, start, stop and inspect them.

A cell is known by the cell id that JupyterLab and Notebook 7 send with each execution
(IPython hands it to the ``pre_run_cell`` event); ``%%stream APP --name=NAME`` names a cell
explicitly, and without either the cell's source identifies it (then an edited cell counts as
a new one, so the message says to add ``--name``).
"""

from __future__ import annotations

import hashlib
import re
import shlex
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class

from . import apps
from .apps import AppCell, NotebookApp
from .topology_view import TopologyView

__all__ = ["StreamMagics", "load_ipython_extension", "unload_ipython_extension"]

_USAGE = """\
%%stream APP_ID [--name=CELL_NAME]      build part of APP_ID's topology (`builder` is bound)
%stream start APP_ID [--config.key=value ...]   start it (returns the KafkaStreams)
%stream stop APP_ID                     stop it
%stream restart APP_ID                  stop, then start with the current topology
%stream reset APP_ID                    stop it and delete its local state (cleanUp)
%stream status                          every app of this kernel, as a DataFrame
%stream show APP_ID                     draw the topology
%stream view APP_ID                     the topology with live per-node counts (widget)
%stream dashboard APP_ID                topology, stores, windowed counts, lag, throughput
%stream cells APP_ID                    the cells that make up the app
%stream drop APP_ID                     stop the app and forget its cells
%stream produce TOPIC [VALUE ...] [--from=EXPR] [--key=KEY] [--app=APP | --bootstrap=H:P]
        [--key-serde=NAME] [--value-serde=NAME]  produce the VALUEs (strings), or the records
        of EXPR (a DataFrame, {key: value}, values or (key, value[, ts]) tuples; quote an
        EXPR with spaces: --from="[('k', 1)]")
%stream tail TOPIC [--rows=20] [--start=last|end|beginning] [--app=APP | --bootstrap=H:P]
        [--key-serde=NAME] [--value-serde=NAME]  follow TOPIC in a live table (a DataFrame
        of its last rows outside Jupyter)
Without --app or --bootstrap, produce/tail use the kernel's only app, else the embedded broker.
"""

_INT = re.compile(r"-?\d+\Z")


class StreamUsageError(ValueError):
    """A ``%stream`` line that cannot be understood; the message shows the usage."""


def _config_value(text: str) -> Any:
    return int(text) if _INT.match(text) else text


def parse_options(tokens: list[str]) -> tuple[list[str], dict[str, Any]]:
    """Split ``a b --k=v --flag x`` into positionals and ``{"k": v, "flag": "x"}``."""
    positional: list[str] = []
    options: dict[str, Any] = {}
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token.startswith("--") and len(token) > 2:
            key, eq, value = token[2:].partition("=")
            if not eq:
                if index + 1 >= len(tokens) or tokens[index + 1].startswith("--"):
                    raise StreamUsageError(
                        f"option --{key} needs a value: write --{key}=VALUE")
                index += 1
                value = tokens[index]
            options[key] = _config_value(value)
        else:
            positional.append(token)
        index += 1
    return positional, options


def _cell_label(key: str) -> str:
    kind, _, value = key.partition(":")
    if kind == "name":
        return f"cell named {value!r}"
    if kind == "id":
        return f"cell {value[:8]!r}"
    return "cell (identified by its source)"


@magics_class
class StreamMagics(Magics):
    """The magics; one instance per shell, holding the id of the cell being run."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self._cell_id: str | None = None

    # -- cell identity ----------------------------------------------------------------------
    def pre_run_cell(self, info: Any) -> None:
        self._cell_id = getattr(info, "cell_id", None) or None

    def post_run_cell(self, result: Any) -> None:
        self._cell_id = None

    def _cell_key(self, body: str, name: str | None) -> str:
        if name:
            return "name:" + str(name)
        if self._cell_id:
            return "id:" + self._cell_id
        return "src:" + hashlib.sha1(body.encode()).hexdigest()[:16]

    # -- the magic --------------------------------------------------------------------------
    @line_cell_magic
    def stream(self, line: str, cell: str | None = None) -> Any:
        """Build (``%%stream APP``) or control (``%stream start|stop|status ...``) apps."""
        __tracebackhide__ = True
        try:
            tokens = shlex.split(line)
        except ValueError as exc:
            raise StreamUsageError(f"cannot parse {line!r}: {exc}") from None
        if cell is not None:
            return self._build(line, tokens, cell)
        if not tokens:
            print(_USAGE)
            return None
        command, rest = tokens[0], tokens[1:]
        handler = getattr(self, "_cmd_" + command.replace("-", "_"), None)
        if handler is None:
            raise StreamUsageError(f"unknown %stream command {command!r}. Usage:\n{_USAGE}")
        return handler(rest, line)

    def _build(self, line: str, tokens: list[str], body: str) -> TopologyView:
        __tracebackhide__ = True
        positional, options = parse_options(tokens)
        if len(positional) != 1:
            raise StreamUsageError(
                f"%%stream takes one app id (got {positional or 'none'}): "
                "%%stream APP_ID [--name=CELL_NAME]")
        unknown = set(options) - {"name"}
        if unknown:
            raise StreamUsageError(f"%%stream knows only --name, not {sorted(unknown)}")
        app_id = positional[0]
        key = self._cell_key(body, options.get("name"))
        # Line numbers in tracebacks match the cell: the body starts on line 2.
        raw = f"%%stream {line}\n{body}"
        filename = self.shell.compile.cache(raw, self.shell.execution_count)
        code = compile("\n" + body, filename, "exec")
        cell = AppCell(key, body, code, _cell_label(key))

        app = apps.get_app(app_id, create=True)
        previous = app.cells.get(key)
        cells = dict(app.cells)
        cells[key] = cell  # a known cell keeps its place; a new one goes last
        old_owner = apps.cell_owner(key)
        try:
            app.rebuild(cells, self.shell.user_ns)
        except Exception as exc:
            if key.startswith("src:") and previous is None and len(cells) > 1 and hasattr(
                    exc, "add_note"):
                exc.add_note(
                    f"(streamnb: {app_id!r} keeps its previous topology. This front end sends "
                    "no cell id, so an edited cell counts as a new one and its nodes clash "
                    f"with the old version's: name the cell, %%stream {app_id} --name=NAME, "
                    f"or start over with %stream drop {app_id})")
            raise
        apps.set_cell_owner(key, app_id)
        if old_owner is not None and old_owner != app_id and old_owner in apps.registry():
            self._move_out(apps.registry()[old_owner], key)
        changed = previous is None or previous.source != body
        if changed and app.running:
            self._restart(app, reason=f"{cell.label} changed")
        elif not changed and app.running:
            print(f"{app_id}: cell unchanged, the running app keeps its topology.")
        app.notify("rebuilt")
        return TopologyView(app.topology, title=f"{app_id} ({_plural(len(app.cells), 'cell')})")

    def _move_out(self, old_app: NotebookApp, key: str) -> None:
        """A cell now builds another app: rebuild the app it used to belong to without it."""
        try:
            if old_app.without(key):
                old_app.rebuild(old_app.without(key), self.shell.user_ns)
            else:
                old_app.cells, old_app.topology = {}, None
            print(f"{old_app.app_id}: the cell moved to another app and was removed from it.")
        except Exception as exc:
            print(f"{old_app.app_id}: the cell moved to another app, but rebuilding "
                  f"{old_app.app_id} without it failed ({exc}); it keeps its old topology.")

    # -- running ----------------------------------------------------------------------------
    def _restart(self, app: NotebookApp, reason: str) -> None:
        from .control import restart_app

        print(restart_app(app, reason, self.shell.user_ns))

    def _cmd_start(self, rest: list[str], line: str) -> Any:
        from .control import start_app

        positional, options = parse_options(rest)
        app = apps.get_app(_one_app(positional, "start"))
        streams, message = start_app(app, options)
        print(message)
        return streams

    def _cmd_stop(self, rest: list[str], line: str) -> None:
        from .control import stop_app

        positional, _ = parse_options(rest)
        print(stop_app(apps.get_app(_one_app(positional, "stop"))))

    def _cmd_restart(self, rest: list[str], line: str) -> Any:
        positional, _ = parse_options(rest)
        app = apps.get_app(_one_app(positional, "restart"))
        self._restart(app, reason="asked")
        return app.streams

    def _cmd_reset(self, rest: list[str], line: str) -> None:
        from .control import reset_app

        positional, _ = parse_options(rest)
        print(reset_app(apps.get_app(_one_app(positional, "reset"))))

    def _cmd_status(self, rest: list[str], line: str) -> Any:
        from .control import status_frame

        return status_frame()

    def _cmd_show(self, rest: list[str], line: str) -> TopologyView:
        positional, _ = parse_options(rest)
        app = apps.get_app(_one_app(positional, "show"))
        if app.topology is None:
            raise ValueError(f"app {app.app_id!r} has no topology yet: run a %%stream cell")
        return TopologyView(app.topology, title=app.app_id)

    def _cmd_view(self, rest: list[str], line: str) -> Any:
        from .widgets import live_topology

        positional, _ = parse_options(rest)
        return live_topology(apps.get_app(_one_app(positional, "view")))

    def _cmd_dashboard(self, rest: list[str], line: str) -> Any:
        from .widgets import dashboard

        positional, options = parse_options(rest)
        return dashboard(apps.get_app(_one_app(positional, "dashboard")), **options)

    def _cmd_cells(self, rest: list[str], line: str) -> Any:
        import pandas as pd

        positional, _ = parse_options(rest)
        app = apps.get_app(_one_app(positional, "cells"))
        rows = [{"cell": c.label, "key": k, "first line": (c.source.strip().splitlines()
                                                          or [""])[0]}
                for k, c in app.cells.items()]
        return pd.DataFrame(rows, columns=["cell", "key", "first line"])

    def _cmd_drop(self, rest: list[str], line: str) -> None:
        from .control import drop_app

        positional, _ = parse_options(rest)
        print(drop_app(apps.get_app(_one_app(positional, "drop"))))


    # -- topics -----------------------------------------------------------------------------
    def _cmd_produce(self, rest: list[str], line: str) -> None:
        from .topics import produce

        positional, options = parse_options(rest)
        _only(options, "produce", {"from", "key", "app", "bootstrap", "key-serde",
                                   "value-serde", "partitions"})
        if not positional:
            raise StreamUsageError("usage: %stream produce TOPIC [VALUE ...] [--from=EXPR]")
        topic, values = positional[0], positional[1:]
        if "from" in options:
            if values:
                raise StreamUsageError("give VALUEs or --from=EXPR, not both")
            expr = str(options["from"])
            records = eval(expr, self.shell.user_ns)  # noqa: S307 - the user's own kernel
        elif values:
            records = values
        else:
            raise StreamUsageError(
                f"nothing to produce: %stream produce {topic} VALUE ... or --from=EXPR")
        if "key" in options:
            if "from" in options:
                raise StreamUsageError("--key applies to VALUEs on the line, not to --from")
            records = [(options["key"], value) for value in records]
        target = _where(options)
        count = produce(target, topic, records, options.get("key-serde"),
                        options.get("value-serde"), partitions=options.get("partitions"))
        print(f"produced {_plural(count, 'record')} to {topic!r} on {_describe(target)}")

    def _cmd_tail(self, rest: list[str], line: str) -> Any:
        from .widgets import in_widget_frontend

        positional, options = parse_options(rest)
        _only(options, "tail", {"rows", "start", "app", "bootstrap", "key-serde",
                                "value-serde"})
        if len(positional) != 1:
            raise StreamUsageError(f"usage: %stream tail TOPIC [--rows=N] (got "
                                   f"{positional or 'no topic'})")
        rows = options.get("rows", 20)
        if not isinstance(rows, int) or rows < 1:
            raise StreamUsageError(f"--rows must be a positive number, got {rows!r}")
        target = _where(options)
        if in_widget_frontend():
            from .topics import tail_table

            return tail_table(target, positional[0], rows, str(options.get("start", "last")),
                              options.get("key-serde"), options.get("value-serde"))
        from .topics import tail_frame

        frame = tail_frame(target, positional[0], key_serde=options.get("key-serde"),
                           value_serde=options.get("value-serde"))
        return frame.tail(rows)


def _only(options: dict[str, Any], command: str, allowed: set[str]) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise StreamUsageError(f"%stream {command} does not know --{', --'.join(unknown)}; "
                               f"it takes --{', --'.join(sorted(allowed))}")


def _where(options: dict[str, Any]) -> Any:
    """Where produce/tail go: --app, --bootstrap, the kernel's only app, else embedded."""
    if "app" in options and "bootstrap" in options:
        raise StreamUsageError("give --app or --bootstrap, not both")
    if "app" in options:
        return apps.get_app(str(options["app"]))
    if "bootstrap" in options:
        return str(options["bootstrap"])
    known = list(apps.registry().values())
    return known[0] if len(known) == 1 else None


def _describe(target: Any) -> str:
    if isinstance(target, NotebookApp):
        where = getattr(target.streams, "bootstrap_servers", None)
        return f"app {target.app_id}'s broker" + (f" {where}" if where else "")
    return target if isinstance(target, str) else "the embedded broker"


def _one_app(positional: list[str], command: str) -> str:
    if len(positional) != 1:
        raise StreamUsageError(f"usage: %stream {command} APP_ID (got {positional or 'none'})")
    return positional[0]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


_LOADED: dict[int, StreamMagics] = {}


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics and the cell-id hooks on ``ipython`` (idempotent)."""
    if id(ipython) in _LOADED:
        return
    magics = StreamMagics(ipython)
    ipython.register_magics(magics)
    ipython.events.register("pre_run_cell", magics.pre_run_cell)
    ipython.events.register("post_run_cell", magics.post_run_cell)
    _LOADED[id(ipython)] = magics


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the cell-id hooks (IPython has no API to unregister magics themselves)."""
    magics = _LOADED.pop(id(ipython), None)
    if magics is None:
        return
    for event, fn in (("pre_run_cell", magics.pre_run_cell),
                      ("post_run_cell", magics.post_run_cell)):
        try:
            ipython.events.unregister(event, fn)
        except ValueError:
            pass
