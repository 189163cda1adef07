"""noida-db as the embedded broker: a single-binary Kafka-protocol server from PyPI.

We start the real binary inside the ``noida_db`` package, not the ``noida-db`` console
script: that script is a Python wrapper whose child keeps the port when the wrapper is
sent SIGTERM. The broker runs in its own session (a notebook "interrupt" signals the
kernel's process group and must not kill it) and, on Linux, gets SIGTERM when the thread
that started it dies, so a killed kernel leaves no broker behind. No signal handler is
ever installed in this process.

noida-db keeps a whole-cluster snapshot (``kafka.json``) in ``--data-dir``, rewritten
about a second after changes and on SIGTERM; records acknowledged in the last second are
lost if the broker is SIGKILLed. ``noida.control.json`` there names the running server's
pid; noida-db itself refuses a second server on the same directory.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

from streamnb.broker._clients import wait_for_metadata
from streamnb.broker._process import (
    HOST,
    die_with_parent,
    free_port,
    is_noida,
    pid_alive,
    port_free,
    terminate_pid,
)
from streamnb.broker.errors import EmbeddedBrokerException

OWNER_FILE = "streamnb-broker.json"  # ours: which process owns the broker, on which port
CONTROL_FILE = "noida.control.json"  # noida-db's: pid of the server running on the dir
LOG_FILE = "streamnb-broker.log"
SNAPSHOT_FILE = "kafka.json"  # noida-db's whole Kafka state, records as JSON int arrays
LOAD_S_PER_MB = 0.05  # start/stop budget per MB of snapshot (measured ~0.01-0.016 s/MB)
_NOISE = ("GLIBC_", "press Ctrl-C")  # harmless lines noida-db prints on every start


def noida_binary() -> Path:
    """Path of the noida-db executable shipped in the ``noida_db`` wheel."""
    spec = importlib.util.find_spec("noida_db")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedBrokerException(
            "the embedded broker needs the noida-db package: pip install 'noida-db>=0.2.3,<0.3'"
        )
    name = "noida-db.exe" if os.name == "nt" else "noida-db"
    path = Path(next(iter(spec.submodule_search_locations))) / name
    if not path.is_file():
        raise EmbeddedBrokerException(
            f"noida-db has no server binary for this platform ({sys.platform}); expected {path}"
        )
    if os.name != "nt" and not os.access(path, os.X_OK):
        with contextlib.suppress(OSError):
            path.chmod(path.stat().st_mode | 0o111)
    return path


class NoidaBroker:
    """A noida-db server on loopback. ``owned`` brokers are stopped by ``stop()``."""

    kind = "noida"
    supports_transactions = True
    supports_read_committed = True

    def __init__(
        self, port: int, pid: int, data_dir: Path, owned: bool, proc: subprocess.Popen | None = None
    ) -> None:
        self.port = port
        self.pid = pid
        self.data_dir = data_dir
        self.owned = owned
        self.bootstrap_servers = f"{HOST}:{port}"
        self._proc = proc
        self._stopped = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        role = "owned" if self.owned else "borrowed"
        return f"<NoidaBroker {self.bootstrap_servers} pid={self.pid} {role} {self.data_dir}>"

    def is_alive(self) -> bool:
        if self._stopped:
            return False
        if self._proc is not None:
            return self._proc.poll() is None
        return is_noida(self.pid)

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM, wait up to ``timeout`` s, then SIGKILL.

        On SIGTERM noida-db rewrites its whole snapshot (~7 s for 450 MB here), so the
        default wait grows with the data: a SIGKILL would lose the last changes.
        """
        if timeout is None:
            timeout = 30.0 + _snapshot_mb(self.data_dir) * LOAD_S_PER_MB
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        if not self.owned:
            return
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        else:
            terminate_pid(self.pid, timeout)
        # OWNER_FILE stays: its port is reused by the next start (stable address).


def start_noida(
    data_dir: str | os.PathLike[str],
    *,
    port: int | None = None,
    timeout: float | None = None,
    reuse_running: bool = True,
) -> NoidaBroker:
    """Start noida-db on ``data_dir`` (created if needed) and wait until it answers.

    A server already running on ``data_dir`` (another process's, or an orphan) is reused
    when ``reuse_running``: an orphan is adopted (we stop it at exit), a live process's
    broker is borrowed (it lives as long as that process). Otherwise the port is
    ``port``, else the one used last time on this directory (stable addresses across
    restarts), else a free one. The default ``timeout`` grows with the data to load.
    """
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    if timeout is None:
        timeout = 10.0 + _snapshot_mb(data_dir) * LOAD_S_PER_MB
    deadline = time.monotonic() + timeout
    binary = noida_binary()
    tried: set[int] = set()
    for _ in range(5):
        running = _running_pid(data_dir)
        if running is not None:
            if not reuse_running:
                raise EmbeddedBrokerException(
                    f"a noida-db server (pid {running}) already runs on {data_dir}"
                )
            return _reuse(running, data_dir, deadline)
        want = port or _read_json(data_dir / OWNER_FILE).get("port")
        use = want if want and want not in tried and (port or port_free(want)) else free_port()
        tried.add(use)
        proc = _spawn(binary, use, data_dir)
        bootstrap = f"{HOST}:{use}"
        try:
            _wait_for_control(data_dir, proc, deadline)
            wait_for_metadata(bootstrap, deadline, alive=lambda p=proc: p.poll() is None)
        except TimeoutError as exc:
            log = _log_tail(data_dir)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            elif ("already running" in log or "already in use" in log) and not port:
                continue  # lost a race with another starter, or the port: try again
            raise EmbeddedBrokerException(
                f"noida-db did not start on {bootstrap} ({exc}; waited up to {timeout:g} s).\n"
                f"command: {shlex.join(_command(binary, use, data_dir))}\n"
                f"last lines of its output:\n{log or '(none)'}"
            ) from None
        _write_owner(data_dir, proc.pid, use)
        return NoidaBroker(use, proc.pid, data_dir, owned=True, proc=proc)
    raise EmbeddedBrokerException(f"could not start or reuse noida-db on {data_dir}")


def _wait_for_control(data_dir: Path, proc: subprocess.Popen, deadline: float) -> None:
    """Wait until noida-db names ``proc`` as the server of ``data_dir`` (it has bound).

    Without this, a port taken by another broker would answer our readiness probe.
    """
    while _read_json(data_dir / CONTROL_FILE).get("pid") != proc.pid:
        if proc.poll() is not None:
            raise TimeoutError(f"it exited with status {proc.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError("it never wrote noida.control.json")
        time.sleep(0.005)


def _reuse(pid: int, data_dir: Path, deadline: float) -> NoidaBroker:
    """Attach to the server ``pid`` on ``data_dir``; its starter may still be writing."""
    while True:
        info = _read_json(data_dir / OWNER_FILE)
        if info.get("broker_pid") == pid:
            break
        if time.monotonic() > deadline:
            raise EmbeddedBrokerException(
                f"a noida-db server (pid {pid}) runs on {data_dir} but its port is unknown; "
                f"stop it (kill {pid}) or use another state.dir"
            )
        time.sleep(0.02)
    port = int(info["port"])
    owner = int(info.get("owner_pid", 0))
    adopt = owner != os.getpid() and not pid_alive(owner)
    try:
        wait_for_metadata(f"{HOST}:{port}", deadline, alive=lambda: pid_alive(pid))
    except TimeoutError as exc:
        raise EmbeddedBrokerException(
            f"a noida-db server (pid {pid}) runs on {data_dir} but does not answer on "
            f"{HOST}:{port} ({exc}); stop it (kill {pid}) or use another state.dir"
        ) from None
    if adopt:
        _write_owner(data_dir, pid, port)
    return NoidaBroker(port, pid, data_dir, owned=adopt)


def _spawn(binary: Path, port: int, data_dir: Path) -> subprocess.Popen:
    """Start the server from a keeper thread that waits on it.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, so the forking
    thread is one that lives exactly as long as the broker.
    """
    cmd = _command(binary, port, data_dir)
    box: dict[str, object] = {}
    started = threading.Event()

    def keeper() -> None:
        try:
            with open(data_dir / LOG_FILE, "wb") as log:
                box["proc"] = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    preexec_fn=die_with_parent(),
                )
        except BaseException as exc:  # reported to the starting thread
            box["error"] = exc
            return
        finally:
            started.set()
        box["proc"].wait()  # type: ignore[attr-defined]

    threading.Thread(target=keeper, name=f"streamnb-broker-{port}", daemon=True).start()
    started.wait()
    if "error" in box:
        raise EmbeddedBrokerException(f"cannot run {binary}: {box['error']}")
    return box["proc"]  # type: ignore[return-value]


def _command(binary: Path, port: int, data_dir: Path) -> list[str]:
    return [
        str(binary),
        "start",
        "--only",
        "kafka",
        "--kafka-port",
        str(port),
        "--host",
        HOST,
        "--data-dir",
        str(data_dir),
    ]


def _running_pid(data_dir: Path) -> int | None:
    """Pid of a live noida-db server on ``data_dir``; clears a stale control file."""
    control = data_dir / CONTROL_FILE
    pid = _read_json(control).get("pid")
    if not isinstance(pid, int):
        return None
    if is_noida(pid):
        return pid
    with contextlib.suppress(OSError):
        control.unlink()  # its server was SIGKILLed, or the pid now belongs to another program
    return None


def _snapshot_mb(data_dir: Path) -> float:
    try:
        return (data_dir / SNAPSHOT_FILE).stat().st_size / 1e6
    except OSError:
        return 0.0


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_owner(data_dir: Path, broker_pid: int, port: int) -> None:
    tmp = data_dir / f".{OWNER_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps({"broker_pid": broker_pid, "owner_pid": os.getpid(), "port": port}))
    os.replace(tmp, data_dir / OWNER_FILE)


def _log_tail(data_dir: Path, lines: int = 15) -> str:
    try:
        text = (data_dir / LOG_FILE).read_text(errors="replace")
    except OSError:
        return ""
    kept = [ln for ln in text.splitlines() if ln.strip() and not any(n in ln for n in _NOISE)]
    return "\n".join(kept[-lines:])
