"""The REST server lowers the GIL switch interval only while a connection is open."""

from __future__ import annotations

import http.client
import sys
import time
from types import SimpleNamespace

import pytest

from streamnb.query import rest


@pytest.fixture
def default_interval():
    saved = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    yield
    sys.setswitchinterval(saved)


def test_reference_counted_and_restored(default_interval):
    switch = rest._SwitchInterval(0.0005)
    switch.enter()
    switch.enter()
    assert sys.getswitchinterval() == pytest.approx(0.0005)
    switch.exit()
    assert sys.getswitchinterval() == pytest.approx(0.0005)  # one connection still open
    switch.exit()
    assert sys.getswitchinterval() == pytest.approx(0.005)


def test_a_value_set_meanwhile_by_the_user_is_kept(default_interval):
    switch = rest._SwitchInterval(0.0005)
    switch.enter()
    sys.setswitchinterval(0.002)
    switch.exit()
    assert sys.getswitchinterval() == pytest.approx(0.002)
    sys.setswitchinterval(0.0001)  # already smaller: left alone
    switch.enter()
    assert sys.getswitchinterval() == pytest.approx(0.0001)
    switch.exit()
    assert sys.getswitchinterval() == pytest.approx(0.0001)


class _Streams:
    client_id = "switch-test"

    def state(self):
        return "RUNNING"


def test_server_lowers_it_while_a_connection_is_open(default_interval, monkeypatch):
    # a fresh counter: connections other tests left open must not change what we see
    monkeypatch.setattr(rest, "switch_interval",
                        rest._SwitchInterval(rest.REST_SWITCH_INTERVAL_S))
    server = rest.RestServer(SimpleNamespace(streams=_Streams()), "127.0.0.1", 0, None)
    server.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        for _ in range(3):  # keep-alive: one connection, several requests
            conn.request("GET", "/health/live")
            response = conn.getresponse()
            assert response.status == 200 and b"UP" in response.read()
            assert sys.getswitchinterval() == pytest.approx(rest.REST_SWITCH_INTERVAL_S)
        conn.close()
        deadline = time.monotonic() + 10
        while sys.getswitchinterval() != pytest.approx(0.005):
            assert time.monotonic() < deadline, "not restored after the connection closed"
            time.sleep(0.01)
    finally:
        server.stop()
