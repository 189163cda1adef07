"""The REST server of a KafkaStreams client (stdlib ``http.server``, one thread per request).

Off by default; ``KafkaStreams`` starts it when ``application.server`` is set and stops it
on close. It binds ``streamnb.rest.bind.address`` (127.0.0.1 unless told otherwise), serves
only GET (state is never changed through it), answers bad input with a 4xx JSON error, and
checks a bearer token when ``streamnb.rest.auth.token`` is set (health probes excepted).
"""

from __future__ import annotations

import hmac
import logging
import re
import sys
import threading
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import httpwire, prometheus
from .jsonio import dumps
from .openapi import openapi_document
from .params import ApiError
from .rest_handlers import Handlers

log = logging.getLogger("streamnb.query.rest")

#: The default GIL switch interval while a REST connection is open (Python's default is
#: 5 ms); ``streamnb.rest.switch.interval.ms`` sets it per client.
REST_SWITCH_INTERVAL_S = 0.0005

_STORE_ROUTE = re.compile(r"^/v1/stores/([^/]+)/(key|range|window|versioned|metadata)$")
_OPEN = {"/health/live", "/health/ready"}
#: what stays as it is when a request target is percent-encoded (printable ASCII)
_TARGET_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))
_ALLOW = "GET, HEAD, OPTIONS"


def normalize_target(target: str) -> str:
    """The request target with raw bytes outside printable ASCII percent-encoded.

    WHY: the request line is read as latin-1, so a client that sends a UTF-8 ``é`` raw
    (curl does) would query the key ``Ã©``, and a forwarded or fanned-out request could
    not even be sent on (http.client refuses non-ASCII and control characters). Encoded,
    the bytes are read as the UTF-8 they are, like any ``%C3%A9``."""
    if target.isascii() and target.isprintable():
        return target
    return urllib.parse.quote(target.encode("latin-1"), safe=_TARGET_SAFE)


def parse_query(query: str) -> dict[str, list[str]]:
    """``urllib.parse.parse_qs(query, keep_blank_values=True)``, without its per-field
    unquoting when nothing is quoted (no ``%``, no ``+``): the common ``key=k`` costs a
    split instead of a pass through ``parse_qsl``."""
    if "%" in query or "+" in query:
        try:
            return urllib.parse.parse_qs(query, keep_blank_values=True, errors="strict")
        except UnicodeDecodeError as exc:  # not a silent U+FFFD in a key
            raise ApiError(400, "malformed_query",
                           f"the query string's %-escapes must be UTF-8 ({exc.reason} at "
                           f"byte {exc.start} of {exc.object[max(0, exc.start - 8):exc.end + 8]!r}"
                           "); percent-encode each character's UTF-8 bytes") from None
    params: dict[str, list[str]] = {}
    for field in query.split("&"):
        if field:
            name, _, value = field.partition("=")
            found = params.get(name)
            if found is None:
                params[name] = [value]
            else:
                found.append(value)
    return params


class _SwitchInterval:
    """Lowers ``sys.setswitchinterval`` while at least one REST connection is open.

    WHY: every socket call of a handler thread releases the GIL, and getting it back from
    a CPU-bound stream thread waits up to one switch interval (5 ms by default); with two
    such calls per request a REST client got ~140 answers/s under load. The interval only
    matters while some thread WAITS for the GIL, so a small one costs the stream thread
    nothing when no request is being served; the previous value comes back when the last
    connection closes (unless someone else changed it meanwhile). Process-wide and
    reference-counted, because several clients (and servers) can share a process; with
    servers asking for different intervals, the smallest one among open connections holds."""

    def __init__(self, interval: float) -> None:
        self.interval = interval  # for callers that do not say which one they want
        self._lock = threading.Lock()
        self._open: list[float] = []
        self._saved: float | None = None
        self._applied: float | None = None

    def enter(self, interval: float | None = None) -> None:
        with self._lock:
            if not self._open:
                self._saved = sys.getswitchinterval()
                self._applied = None
            self._open.append(self.interval if interval is None else interval)
            self._apply()

    def exit(self, interval: float | None = None) -> None:
        with self._lock:
            self._open.remove(self.interval if interval is None else interval)
            if self._open:
                self._apply()
                return
            if self._applied is not None and self._saved is not None and abs(
                    sys.getswitchinterval() - self._applied) < 1e-9:
                sys.setswitchinterval(self._saved)
            self._saved = self._applied = None

    def _apply(self) -> None:
        """The smallest open interval, when below the saved one and nobody else changed the
        interval since we last set it."""
        assert self._saved is not None
        current = sys.getswitchinterval()
        if self._applied is not None and abs(current - self._applied) >= 1e-9:
            return  # changed meanwhile by someone else: theirs stands
        target = min(self._open)
        if target < self._saved and (self._applied is None or abs(target - current) >= 1e-9):
            sys.setswitchinterval(target)
            self._applied = sys.getswitchinterval()
        elif target >= self._saved and self._applied is not None:
            sys.setswitchinterval(self._saved)
            self._applied = None


switch_interval = _SwitchInterval(REST_SWITCH_INTERVAL_S)


class RestServer:
    """``start()`` binds and serves on a daemon thread; ``stop()`` closes the socket."""

    def __init__(self, service: Any, bind: str, port: int, token: str | None,
                 switch_interval_s: float = REST_SWITCH_INTERVAL_S) -> None:
        self.handlers = h = Handlers(service)
        self._simple = {"/health/live": h.live, "/health/ready": h.ready,
                        "/v1/status": h.status, "/v1/stores": h.stores,
                        "/v1/metadata": h.metadata}
        self.service = service
        self.token = token
        #: the GIL switch interval while one of this server's connections is open
        self.switch_interval_s = switch_interval_s
        handler = type("Handler", (_Handler,), {"server_owner": self})
        try:
            self._server = ThreadingHTTPServer((bind, port), handler)
        except OSError as exc:
            raise OSError(f"the REST server cannot listen on {bind}:{port} ({exc}); choose "
                          "another port in application.server, or 0 for any free port"
                          ) from exc
        self._server.daemon_threads = True
        self.bind = bind
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.2},
                                        name=f"{service.streams.client_id}-rest", daemon=True)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.bind in ("0.0.0.0", "") else self.bind
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        self._thread.start()
        log.info("REST server of %s listening on %s", self.service.streams.client_id, self.url)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def route(self, path: str, query: str, headers: Any) -> tuple[int, Any, str]:
        """(status, body, content type) for a GET of ``path``."""
        params = parse_query(query)
        h = self.handlers
        if path not in _OPEN and self.token is not None:
            given = headers.get("Authorization") or ""
            if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                raise ApiError(401, "unauthorized",
                               "this endpoint needs 'Authorization: Bearer <token>' "
                               "(streamnb.rest.auth.token)")
        if path == "/metrics":
            return 200, prometheus.render(h.streams), "text/plain; version=0.0.4; charset=utf-8"
        if path == "/openapi.json":
            return 200, openapi_document(), "application/json"
        simple = self._simple.get(path)
        if simple is not None:
            status, body = simple(params, headers)
            return status, body, "application/json"
        match = _STORE_ROUTE.match(path)
        if match:
            try:
                store = urllib.parse.unquote(match.group(1), errors="strict")
            except UnicodeDecodeError:
                raise ApiError(400, "malformed_query", f"the store name {match.group(1)!r} "
                               "has %-escapes that are not UTF-8") from None
            action = match.group(2)
            full = path + ("?" + query if query else "")
            if action == "metadata":
                status, body = h.key_metadata(store, params, headers)
            else:
                status, body = getattr(h, action)(store, params, headers, full)
            return status, body, "application/json"
        raise ApiError(404, "not_found", f"no endpoint {path!r}; see /openapi.json")


class _Handler(BaseHTTPRequestHandler):
    server_owner: RestServer
    protocol_version = "HTTP/1.1"
    server_version = "streamnb"
    # Headers and body are two writes: without TCP_NODELAY, Nagle plus the client's delayed
    # ACK would add ~40 ms to every keep-alive response.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        # the counter and the interval entered are the ones exited
        self._switch = switch_interval
        self._switch_s = self.server_owner.switch_interval_s
        self._switch.enter(self._switch_s)
        try:
            super().setup()
        except BaseException:
            self._switch.exit(self._switch_s)
            raise

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self._switch.exit(self._switch_s)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        log.debug("%s %s", self.address_string(), format % args)

    def parse_request(self) -> bool:
        """A plain HTTP/1.0 or 1.1 request is read by ``httpwire`` (no email parser);
        anything else by ``http.server``, which answers malformed requests."""
        first = httpwire.split_request_line(self.raw_requestline)
        if first is None:
            return super().parse_request()
        self.command, path, version = first
        self.requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        self.request_version = f"HTTP/{version[0]}.{version[1]}"
        # as http.server: '//x' would read as a host to clients that follow our links
        self.path = "/" + path.lstrip("/") if path.startswith("//") else path
        self.close_connection = version < (1, 1)
        try:
            self.headers = httpwire.read_headers(self.rfile)
        except httpwire.HeaderError as exc:
            self.close_connection = True
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, str(exc))
            return False
        connection = (self.headers.get("Connection") or "").lower()
        if connection == "close":
            self.close_connection = True
        elif connection == "keep-alive":
            self.close_connection = False
        expect = (self.headers.get("Expect") or "").lower()
        return version < (1, 1) or expect != "100-continue" or self.handle_expect_100()

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path, _, query = normalize_target(self.path).partition("?")
        path = path.partition("#")[0]
        query = query.partition("#")[0]
        try:
            status, body, kind = self.server_owner.route(path, query, self.headers)
        except ApiError as exc:
            status, kind = exc.status, "application/json"
            body = {"error": exc.code, "message": exc.message, **exc.extra}
        except Exception as exc:  # a bug: say so, keep serving (and processing)
            log.error("REST %s failed: %s", self.path, exc, exc_info=exc)
            status, kind = 500, "application/json"
            body = {"error": "internal", "message": f"{type(exc).__name__}: {exc}"}
        data = body.encode() if isinstance(body, str) else dumps(body)
        if log.isEnabledFor(logging.DEBUG):  # not a formatted line per request otherwise
            self.log_request(status)
        if self.request_version == "HTTP/0.9":
            self.wfile.write(data)
            return
        # Headers and body in ONE send: every blocking call gives up the GIL, and getting
        # it back waits up to a switch interval while the stream thread computes.
        head = httpwire.response_head(
            self.protocol_version, status, self.version_string(), kind, len(data),
            "WWW-Authenticate: Bearer\r\n" if status == 401 else "")
        # HEAD: the GET's status and headers (its Content-Length too), without the body
        self.wfile.write(head if self.command == "HEAD" else head + data)

    do_HEAD = do_GET  # noqa: N815 - http.server's name

    def do_OPTIONS(self) -> None:  # noqa: N802 - http.server's name
        """Which methods the API takes (a 204: no body)."""
        if self.headers.get("Content-Length") or self.headers.get("Transfer-Encoding"):
            self.close_connection = True  # a request body is not read
        self.send_response(204)
        self.send_header("Allow", _ALLOW)
        self.end_headers()

    def _refuse(self) -> None:
        self.close_connection = True  # the request body is not read
        data = dumps({"error": "method_not_allowed",
                      "message": f"{self.command} is not allowed: the API is read-only "
                                 f"({_ALLOW})"})
        self.send_response(405)
        self.send_header("Allow", _ALLOW)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse  # noqa: N815

    def __getattr__(self, name: str) -> Any:
        # http.server answers a method it finds no do_<METHOD> for with 501 (a server
        # error); any other method (TRACE, CONNECT, made-up ones) is refused as the
        # client's mistake, with the methods that are allowed
        if name.startswith("do_"):
            return self._refuse
        raise AttributeError(name)
