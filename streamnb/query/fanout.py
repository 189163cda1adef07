"""Range queries over every instance of an app: gather, merge in key order, page.

Each instance holds some partitions of a store. A range over the whole app asks every
other instance that owns partitions of the store for ITS page (its REST ``/range`` with
``local_only=true``, so it never forwards again), adds the local page, merges them in key
order and keeps ``limit`` entries. All instances resume from the same cursor (the last key
of the previous merged page), so walking with ``next_after`` visits every key of the app
once, in order, without any instance holding state between pages.

``range_across_instances`` is the in-process (IQv2-level) form; the REST ``/range``
endpoint uses the same gathering.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..processor import KeyValue
from ..state._base import ValueAndTimestamp
from .metadata import HostInfo
from .position import Position
from .queries import NO_CURSOR, RangeQuery, TimestampedRangeQuery
from .requests import StateQueryRequest

FORWARDED = "X-Streamnb-Forwarded"


class FanoutError(Exception):
    """Another instance that owns partitions of the store could not be asked."""

    def __init__(self, client: str, host: HostInfo | None, partitions: list[int],
                 reason: str, status: int | None = None,
                 body: dict[str, Any] | None = None) -> None:
        where = "no advertised endpoint" if host is None else str(host)
        super().__init__(
            f"partitions {partitions} of the store live on {client} ({where}), which could "
            f"not be asked: {reason}; retry, or query with local_only=true for this "
            "instance's part")
        self.client = client
        self.host = host
        self.partitions = partitions
        #: the owner's HTTP status and JSON error body when it answered with an error
        self.status = status
        self.body = body

    def refused_request(self) -> bool:
        """The owner answered, and found the request itself wrong (a 4xx other than the
        token): the caller's mistake, to pass on as such rather than as an outage."""
        return (self.status is not None and 400 <= self.status < 500
                and self.status not in (401, 403) and bool(self.body))


@dataclass
class Remote:
    """Another instance of the app and the partitions of the store it owns."""

    client_id: str
    host: HostInfo | None
    partitions: list[int]


@dataclass
class RangePage:
    """One page of a range over all instances; pass ``next_after`` to ``with_page`` for the
    next (None: this was the last page)."""

    items: list[KeyValue]
    next_after: Any
    #: partition -> client id of the instance that served it
    partitions: dict[int, str] = field(default_factory=dict)
    position: Position = field(default_factory=Position)


def remotes(service: Any, store: str, local: Iterable[int]) -> list[Remote]:
    """The other instances owning partitions of ``store`` that are not served locally."""
    mine = set(local)
    me = service.streams.client_id
    out = []
    for client, (host, parts) in sorted(service.metadata.store_owners(store).items()):
        missing = [p for p in parts if p not in mine]
        if client != me and missing:
            out.append(Remote(client, host, missing))
    return out


def fetch(remote: Remote, path: str, auth: str | None, me: str, timeout: float
          ) -> dict[str, Any]:
    """GET ``path`` on ``remote`` as a forwarded, local-only request; its JSON body."""
    if remote.host is None or remote.host.port <= 0:
        raise FanoutError(remote.client_id, remote.host, remote.partitions,
                          "it has no REST endpoint (application.server)")
    sep = "&" if "?" in path else "?"
    request = urllib.request.Request(remote.host.url + path + sep + "local_only=true",
                                     headers={FORWARDED: me})
    if auth:
        request.add_header("Authorization", auth)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        text = exc.read()
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        raise FanoutError(remote.client_id, remote.host, remote.partitions,
                          f"HTTP {exc.code}: {text[:300]!r}", exc.code,
                          body if isinstance(body, dict) and "error" in body else None
                          ) from None
    except (OSError, ValueError) as exc:
        raise FanoutError(remote.client_id, remote.host, remote.partitions,
                          str(exc)) from None


def fetch_all(targets: list[Remote], path: str, auth: str | None, me: str,
              timeout: float) -> list[tuple[Remote, dict[str, Any]]]:
    """``fetch`` from every target at once (one thread each): latency of the slowest."""
    if not targets:
        return []
    if len(targets) == 1:
        return [(targets[0], fetch(targets[0], path, auth, me, timeout))]
    with ThreadPoolExecutor(max_workers=min(8, len(targets))) as pool:
        futures = [(t, pool.submit(fetch, t, path, auth, me, timeout)) for t in targets]
        return [(t, f.result()) for t, f in futures]


def merge_rows(rows: list[dict[str, Any]], descending: bool, limit: int | None
               ) -> list[dict[str, Any]]:
    """Rows of all instances in key order (keys of mixed types: by type name, then repr)."""
    try:
        rows.sort(key=lambda r: r["key"], reverse=descending)
    except TypeError:
        rows.sort(key=lambda r: (type(r["key"]).__name__, repr(r["key"])), reverse=descending)
    return rows if limit is None else rows[:limit]


def _key_param(key: Any) -> str:
    return json.dumps(list(key) if isinstance(key, tuple) else key)


def _hashable(value: Any) -> Any:
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


def _range_path(store: str, query: RangeQuery, after: Any, limit: int) -> str:
    params: dict[str, Any] = {"key_type": "json", "limit": limit,
                              "order": "desc" if query.descending else "asc"}
    if query.lower is not None:
        params["from"] = _key_param(query.lower)
    if query.upper is not None:
        params["to"] = _key_param(query.upper)
    if after is not NO_CURSOR:
        params["after"] = _key_param(after)
    return (f"/v1/stores/{urllib.parse.quote(store, safe='')}/range?"
            + urllib.parse.urlencode(params))


def range_across_instances(streams: Any, store: str, query: RangeQuery,
                           timeout: float = 10.0) -> RangePage:
    """A range over the partitions of every instance of the app, merged in key order.

    ``query.with_page(limit, after)`` pages; without a page limit the whole range is
    gathered (remote instances are walked page by page). Keys must survive JSON (str, int,
    float, tuples of them) to come back from other instances; values come back as JSON.
    Needs ``application.server`` on every instance. Raises ``FanoutError`` when an owning
    instance cannot be asked (no silent gaps)."""
    if not isinstance(query, RangeQuery):
        raise TypeError(f"range_across_instances takes a RangeQuery, got {type(query).__name__}")
    service = streams._queries()
    result = streams.query(StateQueryRequest.in_store(store).with_query(query))
    me = streams.client_id
    items: list[tuple[Any, Any]] = []
    served: dict[int, str] = {}
    position = Position()
    for partition, part in sorted(result.partition_results.items()):
        if part.is_success():
            items.extend(part.result)
            served[partition] = me
            position.merge(part.position)
    token = streams.config["streamnb.rest.auth.token"]
    auth = f"Bearer {token}" if token else None
    page_max = streams.config["streamnb.rest.page.max"]
    timestamped = isinstance(query, TimestampedRangeQuery)
    targets = remotes(service, store, served)
    for target, body in fetch_all(
            targets, _range_path(store, query, query.after, query.limit or page_max),
            auth, me, timeout):
        while True:
            for row in body["items"]:
                if served.setdefault(row["partition"], target.client_id) != target.client_id:
                    continue  # moved here by a rebalance meanwhile: the local copy counts
                value = row.get("value")
                if timestamped:
                    value = ValueAndTimestamp(value, row.get("timestamp"))
                items.append(KeyValue(_hashable(row["key"]), value))
            position.merge(Position.from_map(body.get("position") or {}))
            after = body.get("next_after")
            if query.limit is not None or after is None:
                break
            body = fetch(target, _range_path(store, query, _hashable(after), page_max),
                         auth, me, timeout)
    rows = merge_rows([{"key": k, "kv": KeyValue(k, v)} for k, v in items],
                      query.descending, query.limit)
    page = [r["kv"] for r in rows]
    full = query.limit is not None and len(page) == query.limit
    return RangePage(page, page[-1].key if full else None, served, position)


__all__ = ["FanoutError", "RangePage", "Remote", "fetch", "fetch_all", "merge_rows",
           "range_across_instances", "remotes"]
