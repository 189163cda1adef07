"""noida-db as a real broker: clients work, data survives restarts, the lifetime is ours."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest
from confluent_kafka import Producer

from streamnb.broker import EmbeddedBrokerException, embedded_broker, start_noida
from streamnb.broker._process import is_noida
from streamnb.broker.noida import CONTROL_FILE, OWNER_FILE
from tests._kafka import client_config, consume, noida_broker, unique_name


def produce(bootstrap: str, topic: str, *records: tuple[bytes, bytes]) -> None:
    p = Producer({"bootstrap.servers": bootstrap})
    for k, v in records:
        p.produce(topic, v, key=k)
    assert p.flush(10) == 0


def wait_gone(pid: int, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while is_noida(pid) and time.monotonic() < end:
        time.sleep(0.02)
    return not is_noida(pid)


def test_produce_and_consume(kafka):
    topic = unique_name()
    produce(kafka.bootstrap_servers, topic, (b"k", b"hello"))
    [msg] = consume(kafka, topic, 1)
    assert (msg.key(), msg.value()) == (b"k", b"hello")


def test_transactions_commit_and_abort(kafka):
    topic = unique_name()
    p = Producer(client_config(kafka, **{"transactional.id": unique_name("tx")}))
    p.init_transactions(10)
    for value, commit in ((b"a", True), (b"b", False), (b"c", True)):
        p.begin_transaction()
        p.produce(topic, value)
        p.flush(10)
        p.commit_transaction(10) if commit else p.abort_transaction(10)
    committed = consume(kafka, topic, 2, isolation="read_committed")
    assert [m.value() for m in committed] == [b"a", b"c"]
    everything = consume(kafka, topic, 3)
    assert [m.value() for m in everything] == [b"a", b"b", b"c"]


def test_restart_reuses_data_and_port(tmp_path):
    topic = unique_name()
    with noida_broker(tmp_path) as first:
        produce(first.bootstrap_servers, topic, (b"k", b"kept"))
        port = first.port
    with noida_broker(tmp_path) as second:
        assert second.port == port  # notebooks and kcat keep their address
        [msg] = consume(second, topic, 1)
        assert msg.value() == b"kept"


def test_embedded_broker_is_one_per_process(fresh_embedded):
    broker = embedded_broker(fresh_embedded)
    assert broker.kind == "noida"
    assert broker.supports_transactions and broker.supports_read_committed
    assert embedded_broker() is broker
    assert broker.data_dir == (fresh_embedded / "_broker").resolve()
    broker.stop()
    again = embedded_broker(fresh_embedded)  # a dead broker is replaced on demand
    assert again is not broker and again.is_alive()


def test_second_start_on_same_dir_borrows(kafka):
    other = start_noida(kafka.data_dir)
    assert other.pid == kafka.pid and not other.owned
    other.stop()  # a borrowed broker is not ours to stop
    assert kafka.is_alive()
    with pytest.raises(EmbeddedBrokerException, match="already runs"):
        start_noida(kafka.data_dir, reuse_running=False)


def test_orphan_is_adopted_and_stopped(tmp_path):
    first = start_noida(tmp_path)
    info = json.loads((tmp_path / OWNER_FILE).read_text())
    info["owner_pid"] = dead_pid()  # as if the starting process had been killed
    (tmp_path / OWNER_FILE).write_text(json.dumps(info))
    adopted = start_noida(tmp_path)
    assert adopted.owned and adopted.pid == first.pid
    adopted.stop()
    assert wait_gone(first.pid)
    first.stop()


def test_stale_control_file_is_ignored(tmp_path):
    (tmp_path / CONTROL_FILE).write_text(json.dumps({"pid": dead_pid(), "port": 1}))
    with noida_broker(tmp_path) as broker:
        assert broker.is_alive()


def test_start_error_shows_broker_output(kafka, tmp_path):
    with pytest.raises(EmbeddedBrokerException, match="already in use") as err:
        start_noida(tmp_path, port=kafka.port, timeout=3)
    assert "--kafka-port" in str(err.value)  # the command, to reproduce by hand


def test_broker_outlives_the_starting_thread(tmp_path):
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("b", start_noida(tmp_path)))
    t.start()
    t.join()
    time.sleep(0.3)
    broker = box["b"]
    try:
        assert broker.is_alive()
        assert os.getsid(broker.pid) != os.getsid(0)  # a notebook interrupt won't reach it
    finally:
        broker.stop()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
def test_broker_dies_with_a_killed_process(tmp_path):
    code = (
        "import sys, time; from streamnb.broker import start_noida; "
        f"b = start_noida({str(tmp_path)!r}); print(b.pid, flush=True); time.sleep(60)"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    pid = int(child.stdout.readline())
    child.kill()
    child.wait()
    assert wait_gone(pid)


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid
