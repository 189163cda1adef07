"""The pieces of cross-instance ranges that need no broker: merging and failing loudly."""

from __future__ import annotations

import socket

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
