"""Force a static member out of a consumer group, as Kafka's
``Admin.removeMembersFromConsumerGroup`` does (KIP-345), for the takeover tests.

noida-db never evicts a member whose process died (no rebalance after session.timeout.ms),
and confluent-kafka's AdminClient has no call for this, so this sends the one LeaveGroup
request (API key 13, version 3: members named by group.instance.id) itself.
"""

from __future__ import annotations

import socket
import struct

_LEAVE_GROUP = 13
_VERSION = 3


def _string(text: str | None) -> bytes:
    if text is None:
        return struct.pack(">h", -1)
    data = text.encode()
    return struct.pack(">h", len(data)) + data


def _read_string(buf: bytes, pos: int) -> tuple[str | None, int]:
    (size,) = struct.unpack_from(">h", buf, pos)
    pos += 2
    if size < 0:
        return None, pos
    return buf[pos:pos + size].decode(), pos + size


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the broker closed the connection mid-response")
        data += chunk
    return data


def remove_static_members(bootstrap: str, group: str, instance_ids: list[str]) -> None:
    """Remove the members with these group.instance.ids (the coordinator is the single
    broker at ``bootstrap``); raises if the broker refuses any of them."""
    host, _, port = bootstrap.rpartition(":")
    body = _string(group) + struct.pack(">i", len(instance_ids))
    body += b"".join(_string("") + _string(i) for i in instance_ids)
    request = struct.pack(">hhi", _LEAVE_GROUP, _VERSION, 1) + _string("streamnb-tests") + body
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", _recv_exactly(sock, 4))
        buf = _recv_exactly(sock, size)
    _correlation, _throttle, error, count = struct.unpack_from(">iihi", buf, 0)
    pos = 14
    errors = []
    for _ in range(count):
        member, pos = _read_string(buf, pos)
        instance, pos = _read_string(buf, pos)
        (member_error,) = struct.unpack_from(">h", buf, pos)
        pos += 2
        if member_error:
            errors.append((member, instance, member_error))
    if error or errors:
        raise RuntimeError(f"LeaveGroup for {instance_ids} in {group!r} failed: error {error}, "
                           f"members {errors}")
