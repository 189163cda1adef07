"""The one embedded broker per process, started on first use and stopped at exit.

Apps without ``bootstrap.servers`` share it, so one app's output topic can be another's
input. noida-db is preferred (real transactions, data kept on disk under
``<state.dir>/_broker``); librdkafka's mock cluster is the fallback when noida-db cannot
run. ``STREAMNB_EMBEDDED_BROKER=noida|mock`` forces one (``noida`` then fails loudly
instead of falling back).
"""

from __future__ import annotations

import atexit
import getpass
import os
import tempfile
import threading
import warnings
from pathlib import Path

from streamnb.broker.base import Broker
from streamnb.broker.errors import EmbeddedBrokerException
from streamnb.broker.mock import UNAVAILABLE, MockBroker
from streamnb.broker.noida import start_noida

ENV_VAR = "STREAMNB_EMBEDDED_BROKER"
_lock = threading.Lock()
_broker: Broker | None = None
_atexit_registered = False


def default_state_dir() -> Path:
    """Per-user default for ``state.dir``, like Kafka Streams' ``/tmp/kafka-streams``."""
    try:
        who = str(os.getuid())
    except AttributeError:  # Windows
        who = getpass.getuser()
    return Path(tempfile.gettempdir()) / f"streamnb-{who}"


def embedded_broker(state_dir: str | os.PathLike[str] | None = None) -> Broker:
    """The process's embedded broker, started (or restarted, if it died) on demand.

    ``state_dir`` only matters for the first start: the broker keeps its data in
    ``<state_dir>/_broker`` and later apps of the process reuse the running broker.
    """
    global _broker, _atexit_registered
    with _lock:
        if _broker is not None and _broker.is_alive():
            _warn_other_state_dir(_broker, state_dir)
            return _broker
        _broker = _start(Path(state_dir) if state_dir else default_state_dir())
        if not _atexit_registered:
            atexit.register(stop_embedded_broker)
            _atexit_registered = True
        return _broker


def stop_embedded_broker() -> None:
    """Stop the process's embedded broker, if any (the next ``embedded_broker`` restarts it)."""
    global _broker
    with _lock:
        broker, _broker = _broker, None
    if broker is not None:
        broker.stop()


def _start(state_dir: Path) -> Broker:
    choice = os.environ.get(ENV_VAR, "").strip().lower()
    if choice not in ("", "auto", "noida", "mock"):
        raise EmbeddedBrokerException(f"{ENV_VAR}={choice!r}: use 'noida' or 'mock' (or unset it)")
    reason = f"{ENV_VAR}=mock"
    if choice != "mock":
        try:
            _private_dir(state_dir)
            return start_noida(state_dir / "_broker")
        except (EmbeddedBrokerException, OSError) as exc:
            if choice == "noida":
                raise
            reason = f"noida-db could not start: {exc}"
    warnings.warn(
        f"streamnb is using librdkafka's in-process mock cluster as its embedded broker "
        f"({reason}). On it {UNAVAILABLE}. Set bootstrap.servers to a real cluster for "
        f"exactly-once processing.",
        RuntimeWarning,
        stacklevel=3,
    )
    return MockBroker()


def _private_dir(path: Path) -> None:
    """Create ``path`` readable by this user only (it lives in a shared temp dir)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def _warn_other_state_dir(broker: Broker, state_dir: str | os.PathLike[str] | None) -> None:
    data_dir = getattr(broker, "data_dir", None)
    if state_dir is None or data_dir is None:
        return
    if Path(state_dir).resolve() / "_broker" != data_dir:
        warnings.warn(
            f"the embedded broker already runs with its data in {data_dir}; state.dir "
            f"{state_dir} holds this app's local state only",
            RuntimeWarning,
            stacklevel=3,
        )
