"""The REST server's own request reading and response writing (httpwire): what
http.server did (headers by any case, keep-alive, HTTP/1.0, limits, errors), cheaper;
and the switch interval from ``streamnb.rest.switch.interval.ms``."""

from __future__ import annotations

import io
import socket
import sys
from types import SimpleNamespace

import pytest

from streamnb.query import httpwire, rest
from streamnb.runtime.config import ConfigException, StreamsConfig


def test_headers_any_case_folded_lines_and_the_first_of_repeats():
    raw = (b"Host: h\r\nAUTHORIZATION: Bearer x\r\nX-Long: one\r\n  two\r\n"
           b"host: second\r\nno colon here\r\n\r\nGET /next")
    rfile = io.BytesIO(raw)
    headers = httpwire.read_headers(rfile)
    assert headers.get("authorization") == headers["Authorization"] == "Bearer x"
    assert headers.get("x-long") == "one two"
    assert headers.get("Host") == "h"
    assert "HOST" in headers and "Missing" not in headers
    assert headers.get("missing", "d") == "d"
    assert rfile.read() == b"GET /next"  # the next request is left unread


def test_header_limits_raise():
    with pytest.raises(httpwire.HeaderError, match="more than 100"):
        httpwire.read_headers(io.BytesIO(b"A: b\r\n" * 101 + b"\r\n"))
    with pytest.raises(httpwire.HeaderError, match="too long"):
        httpwire.read_headers(io.BytesIO(b"A: " + b"x" * 70_000 + b"\r\n\r\n"))


def test_only_plain_http_1_request_lines_take_the_fast_path():
    assert httpwire.split_request_line(b"GET /a?b=1 HTTP/1.1\r\n") == ("GET", "/a?b=1", (1, 1))
    assert httpwire.split_request_line(b"GET /a HTTP/1.0\r\n") == ("GET", "/a", (1, 0))
    for line in (b"GET /a\r\n", b"GET /a HTTP/2.0\r\n", b"GET / x HTTP/1.1\r\n", b"\r\n"):
        assert httpwire.split_request_line(line) is None


class _Streams:
    client_id = "wire-test"

    def state(self):
        return "RUNNING"


@pytest.fixture
def server():
    saved = sys.getswitchinterval()
    srv = rest.RestServer(SimpleNamespace(streams=_Streams()), "127.0.0.1", 0, "tok")
    srv.start()
    yield srv
    srv.stop()
    sys.setswitchinterval(saved)


def _exchange(port: int, data: bytes) -> bytes:
    """Send ``data``, read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_keep_alive_then_close_and_lower_case_auth(server):
    live = b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"
    status = b"GET /v1/status HTTP/1.1\r\nauthorization: Bearer tok\r\n\r\n"
    denied = b"GET /v1/status HTTP/1.1\r\nConnection: close\r\n\r\n"
    out = _exchange(server.port, live + status + denied)
    responses = out.split(b"HTTP/1.1 ")[1:]
    assert [r[:3] for r in responses] == [b"200", b"500", b"401"]  # the fake has no status
    first_head, first_body = responses[0].split(b"\r\n\r\n", 1)
    assert b"Content-Type: application/json" in first_head
    assert f"Content-Length: {len(first_body)}".encode() in first_head
    assert b"\r\nDate: " in first_head and b"\r\nServer: streamnb" in first_head
    assert b"WWW-Authenticate: Bearer" in responses[2]


def test_http_1_0_gets_one_answer_and_the_connection_closed(server):
    out = _exchange(server.port, b"GET /health/live HTTP/1.0\r\n\r\n"
                                 b"GET /health/live HTTP/1.0\r\n\r\n")
    assert out.count(b" 200 OK") == 1 and out.endswith(b'"state":"RUNNING"}')


def test_malformed_requests_get_http_server_errors(server):
    assert _exchange(server.port, b"GET /health/live HTTP/1.1\r\n"
                     + b"A: b\r\n" * 101 + b"\r\n").startswith(b"HTTP/1.1 431")
    # http.server answers a request line it cannot read as HTTP/0.9: the error page alone
    assert b"Error code: 400" in _exchange(server.port, b"GET /health/live HTTP/x\r\n\r\n")
    assert b"Error code: 505" in _exchange(server.port, b"GET /health/live HTTP/2.0\r\n\r\n")
    # HTTP/0.9: the body alone, as before
    body = _exchange(server.port, b"GET /health/live\r\n\r\n")
    assert body == b'{"status":"UP","state":"RUNNING"}'


def test_query_string_and_fragment_are_split_off_the_path(server):
    out = _exchange(server.port, b"GET /health/live?x=1#frag HTTP/1.1\r\nConnection: close"
                                 b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("value, expected", [(0.5, 0.5), ("2", 2.0), (5, 5.0), (1000, 1000.0)])
def test_switch_interval_setting(value, expected):
    config = StreamsConfig({"application.id": "a", "streamnb.rest.switch.interval.ms": value})
    assert config["streamnb.rest.switch.interval.ms"] == expected
    assert StreamsConfig({"application.id": "a"})["streamnb.rest.switch.interval.ms"] == (
        rest.REST_SWITCH_INTERVAL_S * 1000)


@pytest.mark.parametrize("value", [0, -1, "fast", None, True, float("nan"), 1001])
def test_bad_switch_interval_is_refused_with_the_key_and_the_range(value):
    with pytest.raises(ConfigException, match=r"streamnb.rest.switch.interval.ms must be a "
                                              r"number of milliseconds above 0 and at most 1000"):
        StreamsConfig({"application.id": "a", "streamnb.rest.switch.interval.ms": value})


def test_servers_with_different_intervals_use_the_smallest_while_open(monkeypatch):
    saved = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    switch = rest._SwitchInterval(0.0005)
    try:
        switch.enter(0.002)
        assert sys.getswitchinterval() == pytest.approx(0.002)
        switch.enter(0.001)
        assert sys.getswitchinterval() == pytest.approx(0.001)
        switch.exit(0.001)  # the 2 ms server's connection is still open
        assert sys.getswitchinterval() == pytest.approx(0.002)
        switch.enter(0.01)  # above Python's interval: leaves it alone
        assert sys.getswitchinterval() == pytest.approx(0.002)
        switch.exit(0.002)
        assert sys.getswitchinterval() == pytest.approx(0.005)
        switch.exit(0.01)
        assert sys.getswitchinterval() == pytest.approx(0.005)
    finally:
        sys.setswitchinterval(saved)


def test_a_server_applies_its_own_interval(monkeypatch):
    monkeypatch.setattr(rest, "switch_interval", rest._SwitchInterval(0.0005))
    saved = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    srv = rest.RestServer(SimpleNamespace(streams=_Streams()), "127.0.0.1", 0, None, 0.0012)
    srv.start()
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
            sock.sendall(b"GET /health/live HTTP/1.1\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            assert sys.getswitchinterval() == pytest.approx(0.0012)
    finally:
        srv.stop()
        sys.setswitchinterval(saved)


def test_head_options_and_other_methods_get_no_5xx(server):
    # http.server answered every method without a do_<METHOD> with 501 Unsupported method
    get = _exchange(server.port, b"GET /health/live HTTP/1.1\r\nConnection: close\r\n\r\n")
    out = _exchange(server.port, b"HEAD /health/live HTTP/1.1\r\n\r\n"
                                 b"OPTIONS /v1/stores/s/key HTTP/1.1\r\n\r\n"
                                 b"TRACE /health/live HTTP/1.1\r\n\r\n")
    head, rest_ = out.split(b"HTTP/1.1 204", 1)
    get_head, get_body = get.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200") and head.endswith(b"\r\n\r\n")  # no body
    assert f"Content-Length: {len(get_body)}".encode() in head  # the GET's length
    options, trace = rest_.split(b"HTTP/1.1 ", 1)
    assert b"Allow: GET, HEAD, OPTIONS" in options and b"Content-Length" not in options
    assert trace.startswith(b"405") and b"Allow: GET, HEAD, OPTIONS" in trace
    assert trace.endswith(b'"message":"TRACE is not allowed: the API is read-only '
                          b'(GET, HEAD, OPTIONS)"}')
    made_up = _exchange(server.port, b"FROB /health/live HTTP/1.1\r\n\r\n")
    assert made_up.startswith(b"HTTP/1.1 405") and b'"error":"method_not_allowed"' in made_up


@pytest.mark.parametrize("raw, expected", [
    ("/v1/stores/s/key?key=é".encode().decode("latin-1"), {"key": ["é"]}),  # curl sends é raw
    ("/x?key=a\x01&b=\x7f", {"key": ["a\x01"], "b": ["\x7f"]}),
    ("/x?key=a%20b&c=d+e", {"key": ["a b"], "c": ["d e"]}),  # already encoded: as it was
])
def test_raw_bytes_in_the_target_are_read_as_utf8_and_can_be_sent_on(raw, expected):
    # Before: é was read as the key 'Ã©', and forwarding the target to the key's owner (or
    # fanning a range out) failed in http.client: a 503 owner_unreachable, or for control
    # characters a 500.
    target = rest.normalize_target(raw)
    assert target.isascii() and target.isprintable()
    assert rest.parse_query(target.partition("?")[2]) == expected
    assert rest.normalize_target(target) == target


def test_escapes_that_are_not_utf8_are_a_400(server):
    out = _exchange(server.port, b"GET /v1/stores/a%FFb/key?key=k HTTP/1.1\r\n"
                                 b"Authorization: Bearer tok\r\nConnection: close\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400") and b'"error":"malformed_query"' in out
    out = _exchange(server.port, b"GET /v1/stores/s/key?key=%C3 HTTP/1.1\r\n"
                                 b"Authorization: Bearer tok\r\nConnection: close\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400") and b"must be UTF-8" in out


def test_fuzz_failures_say_how_to_replay_them(server):
    # A CI failure of the (random) fuzz test must be repeatable: each failure carries the
    # request as a curl line and the hypothesis seed, and the same seed sends the same cases.
    pytest.importorskip("schemathesis")
    import shlex

    from tests.query.fuzz_rest import SEED_VARIABLE, fuzz

    server.token = None  # the fake client has no status: its endpoints answer 500
    runs = [fuzz(server.url, seconds=30, examples=5, seed_value=7) for _ in range(2)]
    failures = runs[0][0]
    assert failures and runs[0][1] == 5
    assert all(f"{SEED_VARIABLE}=7" in f and "\n  500 " in f for f in failures)
    commands = [[shlex.split(f.split("\n")[0]) for f in run[0]] for run in runs]
    assert all(c[:6] == ["curl", "-sS", "-g", "-i", "-X", "GET"] and len(c) == 7
               and c[6].startswith(server.url + "/") for c in commands[0])
    assert commands[0] == commands[1]  # the same seed, the same requests
