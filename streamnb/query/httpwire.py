"""The REST server's request reading and response writing, cheaper than ``http.server``'s.

WHY: a REST request runs in the app's process, under the GIL, next to the stream thread;
every microsecond it spends is taken from processing. ``http.server`` parses request
headers with the ``email`` package (about a quarter of a key query's CPU) and formats a
Date and a log line for every response. Here a plain ``HTTP/1.0`` / ``HTTP/1.1`` request
has its headers read line by line into a case-insensitive dict, and a response head is
one formatted string with the Date re-made at most once per second. Anything unusual
(HTTP/0.9, bad request lines, other versions) goes through ``http.server`` unchanged.
"""

from __future__ import annotations

import time
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

#: http.server's limits: a longer line or more headers gets a 431
MAX_LINE = 65536
MAX_HEADERS = 100

_PHRASES = {s.value: s.phrase for s in HTTPStatus}
_VERSIONS = {"HTTP/1.1": (1, 1), "HTTP/1.0": (1, 0)}


class Headers(dict):  # type: ignore[type-arg]
    """Request headers by lower-case name; ``get``/``[]``/``in`` ignore the case of the name
    (as ``email.message.Message`` does, and like it the first of repeated headers wins)."""

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return dict.get(self, name.lower(), default)

    def __getitem__(self, name: str) -> Any:
        return dict.get(self, name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and dict.__contains__(self, name.lower())


class HeaderError(Exception):
    """A header line too long, or too many headers (answered with a 431)."""


def read_headers(rfile: Any) -> Headers:
    """The header lines up to the blank line. Folded (continued) lines join the header
    before them; lines without a colon are ignored, as the email parser does."""
    peek = getattr(rfile, "peek", None)
    if peek is not None:  # a socket's buffered reader: the whole block in one read
        block = _buffered_block(rfile, peek)
        if block is not None:
            return block
    headers = Headers()
    last = None
    count = 0
    while True:
        line = rfile.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise HeaderError("Line too long")
        if line in (b"\r\n", b"\n", b""):
            return headers
        count += 1
        if count > MAX_HEADERS:
            raise HeaderError(f"got more than {MAX_HEADERS} headers")
        last = _add_header(headers, line.decode("iso-8859-1").rstrip("\r\n"), last)


def _add_header(headers: Headers, text: str, last: str | None) -> str | None:
    """Add one header line to ``headers``; returns the name a folded next line continues
    (None after a repeated header: the first one is kept, so its folds are too)."""
    if text[:1] in (" ", "\t"):
        if last is not None:
            headers[last] = f"{dict.__getitem__(headers, last)} {text.strip()}"
        return last
    name, sep, value = text.partition(":")
    if not sep:
        return last
    name = name.strip().lower()
    if dict.__contains__(headers, name):  # already lower case
        return None
    dict.__setitem__(headers, name, value.strip())
    return name


def _buffered_block(rfile: Any, peek: Any) -> Headers | None:
    """The headers when the buffer already holds all of them, ending in CRLF CRLF with
    CRLF line ends only (anything else: None, and nothing is consumed). One ``peek`` and
    one ``read`` instead of a ``readline`` per header."""
    buf = peek(MAX_LINE)
    if buf[:2] == b"\r\n":  # no headers at all
        rfile.read(2)
        return Headers()
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    block = buf[:end]
    if block.count(b"\n") != block.count(b"\r\n") or block.count(b"\r") != block.count(
            b"\r\n"):
        return None  # a bare LF or CR: the line-by-line reader splits those as it should
    lines = block.decode("iso-8859-1").split("\r\n")
    if len(lines) > MAX_HEADERS:
        return None  # the line-by-line reader answers it (431)
    headers = Headers()
    last = None
    for text in lines:
        last = _add_header(headers, text, last)
    rfile.read(end + 4)
    return headers


def split_request_line(raw: bytes) -> tuple[str, str, tuple[int, int]] | None:
    """``(method, path, version)`` of a plain HTTP/1.0 or 1.1 request line, else None."""
    words = raw.decode("iso-8859-1").split()
    if len(words) != 3:
        return None
    version = _VERSIONS.get(words[2])
    if version is None:
        return None
    return words[0], words[1], version


_date = [0, ""]


def http_date() -> str:
    """The Date header's value, formatted once per second (not once per response)."""
    now = int(time.time())
    cached = _date
    if cached[0] != now:
        cached[1] = formatdate(now, usegmt=True)
        cached[0] = now
    return cached[1]


def response_head(protocol: str, status: int, server: str, kind: str, length: int,
                  extra: str = "") -> bytes:
    """Status line and headers of a response, ready to be sent in front of its body."""
    return (f"{protocol} {status} {_PHRASES.get(status, '')}\r\nServer: {server}\r\n"
            f"Date: {http_date()}\r\nContent-Type: {kind}\r\nContent-Length: {length}\r\n"
            f"{extra}\r\n").encode("latin-1")
