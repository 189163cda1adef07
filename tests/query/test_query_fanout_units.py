"""The pieces of cross-instance ranges that need no broker: merging and failing loudly."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest

from streamnb.query import RangeQuery
from streamnb.query.fanout import FanoutError, Remote, _range_path, fetch, merge_rows
from streamnb.query.metadata import HostInfo


def test_merge_rows_orders_both_ways_and_keeps_the_page():
    rows = [{"key": k} for k in ["k3", "k1", "k4", "k2"]]
    assert [r["key"] for r in merge_rows(list(rows), False, 3)] == ["k1", "k2", "k3"]
    assert [r["key"] for r in merge_rows(list(rows), True, 2)] == ["k4", "k3"]
    mixed = [{"key": 2}, {"key": "a"}, {"key": 1}]
    assert [r["key"] for r in merge_rows(mixed, False, None)] == [1, 2, "a"]


def test_an_unreachable_owner_is_an_error_naming_its_partitions():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    target = Remote("other-client", HostInfo("127.0.0.1", port), [1, 3])
    with pytest.raises(FanoutError, match=r"partitions \[1, 3\].*other-client"):
        fetch(target, "/v1/stores/s/range?limit=5", None, "me", 2.0)
    with pytest.raises(FanoutError, match="no REST endpoint"):
        fetch(Remote("c", None, [0]), "/v1/stores/s/range", None, "me", 2.0)


def test_range_path_carries_bounds_cursor_and_order_as_json_keys():
    query = RangeQuery.with_range("a b", (1, "x")).with_descending_keys().with_page(7)
    path = _range_path("my store", query, "k&9", 7)
    assert path.startswith("/v1/stores/my%20store/range?")
    assert "key_type=json" in path and "limit=7" in path and "order=desc" in path
    assert "from=%22a+b%22" in path and "to=%5B1%2C+%22x%22%5D" in path
    assert "after=%22k%269%22" in path


def _answering(status: int, body: bytes):
    """A local HTTP server that answers every GET with ``status`` and ``body``."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.mark.parametrize("status, body, refused", [
    (400, b'{"error": "bad_request", "message": "execution_info must be true or false"}',
     True),
    (409, b'{"error": "not_up_to_bound", "message": "behind"}', True),
    (401, b'{"error": "unauthorized", "message": "token"}', False),  # our token, not theirs
    (503, b'{"error": "not_running", "message": "rebalancing"}', False),
    (400, b"not json", False),
])
def test_an_owner_refusing_the_request_is_told_apart_from_an_outage(status, body, refused):
    server = _answering(status, body)
    try:
        target = Remote("other", HostInfo("127.0.0.1", server.server_address[1]), [1])
        with pytest.raises(FanoutError) as info:
            fetch(target, "/v1/stores/s/range?execution_info=-1", None, "me", 5.0)
    finally:
        server.shutdown()
        server.server_close()
    assert info.value.status == status
    assert info.value.refused_request() is refused
    if refused:
        assert info.value.body["error"] in body.decode()


def _slow_owner(delay: float, body: bytes = b'{"error": "not_up_to_bound", "message": "m"}',
                status: int = 409):
    """A local HTTP server answering every GET after ``delay`` seconds (an owner waiting
    out the timeout_ms it was asked for)."""
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the asker gave up waiting (the case under test)
                self.close_connection = True

        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_an_owner_waiting_for_timeout_ms_is_not_taken_for_unreachable(monkeypatch):
    # The forwarded request waits up to timeout_ms (at most 60 s) on the owner; a fixed
    # 10 s read timeout made every wait past it a 503 owner_unreachable.
    from streamnb.query import rest_handlers
    from streamnb.query.metadata import KeyQueryMetadata
    from streamnb.query.params import ApiError

    monkeypatch.setattr(rest_handlers, "_FANOUT_TIMEOUT_S", 0.3)
    server = _slow_owner(0.8)
    try:
        meta = KeyQueryMetadata(HostInfo("127.0.0.1", server.server_address[1]), frozenset(),
                                1, "owner", False)
        service = SimpleNamespace(streams=SimpleNamespace(client_id="me"),
                                  metadata=SimpleNamespace(invalidate=lambda: None))
        handlers = rest_handlers.Handlers(service)
        path = "/v1/stores/s/key?key=k&timeout_ms=1000&position=%7B%7D"
        assert handlers._forward(meta, path, {}, 1000) == (
            409, {"error": "not_up_to_bound", "message": "m"})
        with pytest.raises(ApiError) as info:  # no wait asked for: slow means unreachable
            handlers._forward(meta, path, {}, 0)
        assert (info.value.status, info.value.code) == (503, "owner_unreachable")
    finally:
        server.shutdown()
        server.server_close()


def test_the_fan_out_waits_as_long_as_the_request_may(monkeypatch):
    from streamnb.query import fanout, rest_handlers
    from streamnb.query.results import QueryResult, StateQueryResult

    asked = []
    monkeypatch.setattr(fanout, "fetch_all", lambda targets, path, auth, me, timeout: (
        asked.append(timeout) or []))
    handlers = rest_handlers.Handlers(SimpleNamespace(streams=SimpleNamespace(client_id="me")))
    handlers._remotes = lambda _store, _local: [Remote("other", HostInfo("h", 1), [1])]
    result = StateQueryResult(RangeQuery.with_no_bounds())
    result.add_result(0, QueryResult([]))
    handlers._gather("s", result, {"timeout_ms": ["30000"]}, {}, "/x")
    handlers._gather("s", result, {}, {}, "/x")
    assert asked == [rest_handlers._FANOUT_TIMEOUT_S + 30, rest_handlers._FANOUT_TIMEOUT_S]


def test_a_request_the_owner_would_refuse_is_refused_before_it_is_forwarded():
    from streamnb.query import KeyQuery
    from streamnb.query.metadata import KeyQueryMetadata
    from streamnb.query.params import ApiError
    from streamnb.query.rest_handlers import Handlers

    handlers = Handlers(SimpleNamespace(streams=SimpleNamespace(client_id="me")))
    handlers._owner = lambda _store, _key: KeyQueryMetadata(
        HostInfo("127.0.0.1", 9), frozenset(), 1, "owner", False)
    forwarded = []
    handlers._forward = lambda *args: forwarded.append(args) or (200, {})
    for bad, what in [({"execution_info": ["-1"]}, "execution_info"),
                      ({"timeout_ms": ["-1"]}, "timeout_ms"),
                      ({"position": ["{"]}, "position")]:
        with pytest.raises(ApiError, match=what) as info:
            handlers._keyed("s", "k", KeyQuery.with_key("k"), {"key": ["k"], **bad}, {}, "/x")
        assert info.value.status == 400
    assert forwarded == []
    handlers._keyed("s", "k", KeyQuery.with_key("k"), {"key": ["k"], "timeout_ms": ["250"]},
                    {}, "/x")
    assert [args[-1] for args in forwarded] == [250]  # forwarded with its wait
