"""What each REST endpoint does: parse, query (locally or on the owning instance), answer.

Handlers return ``(status, body)``; bodies are JSON-ready. Key-based queries go to the
partition that holds the key; when another instance owns it, the request is forwarded
there once (never in a loop), so any instance can answer for the whole app.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

from ..errors import InvalidStateStoreException, SerializationException
from . import fanout
from .fanout import FORWARDED
from .jsonio import dumps
from .local import UnknownStateStoreException
from .metadata import KeyQueryMetadata
from .params import (
    MAX_TIME_MS,
    ApiError,
    bad,
    boolean,
    integer,
    key_type_for,
    key_type_param,
    one,
    parse_key,
    position_bound,
    required,
)
from .position import Position, PositionBound
from .queries import (
    NO_CURSOR,
    KeyQuery,
    MultiVersionedKeyQuery,
    Query,
    RangeQuery,
    TimestampedKeyQuery,
    VersionedKeyQuery,
    WindowKeyQuery,
    WindowRangeQuery,
)
from .requests import StateQueryRequest
from .results import FailureReason, StateQueryResult
from .rows import result_rows, value_columns

Params = dict[str, list[str]]
#: key queries ``service.read_key`` answers directly when only ``key=`` is given
_DIRECT = (KeyQuery, TimestampedKeyQuery)
#: how long another instance may take to answer, on top of the timeout_ms it is asked to
#: wait for a position bound (it is not unreachable while it waits as told)
_FANOUT_TIMEOUT_S = 10.0
_MAX_WAIT_MS = 60_000
log = logging.getLogger("streamnb.query.rest")


class Handlers:
    """The endpoints of one client's REST server."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self.streams = service.streams
        self._auto: dict[str, str] = {}  # store -> its key type for key_type=auto
        self._stamped: dict[str, bool] = {}  # store -> whether it keeps timestamps

    # -- status -------------------------------------------------------------------------
    def live(self, params: Params, headers: Any) -> tuple[int, Any]:
        return 200, {"status": "UP", "state": str(self.streams.state())}

    def ready(self, params: Params, headers: Any) -> tuple[int, Any]:
        ready = self.service.is_ready()
        body = {"status": "UP" if ready else "DOWN", "state": str(self.streams.state())}
        return (200 if ready else 503), body

    def status(self, params: Params, headers: Any) -> tuple[int, Any]:
        endpoint = self.service.endpoint
        return 200, {
            "application_id": self.streams.application_id,
            "client_id": self.streams.client_id,
            "state": str(self.streams.state()),
            "ready": self.service.is_ready(),
            "application_server": None if endpoint is None else str(endpoint),
            "threads": self.streams.local_thread_metadata(),
            "stores": self._stores(),
        }

    def _stores(self) -> list[dict[str, Any]]:
        topology = self.streams.topology
        out = []
        for name in sorted(set(topology.stores) | set(topology.global_stores)):
            local = sorted(p.partition for p in self.service.locate(name))
            out.append({"name": name, "kind": self.service.store_kind(name),
                        "global": name in topology.global_stores,
                        "partitions": self.service.store_partition_count(name),
                        "local_partitions": local})
        return out

    def stores(self, params: Params, headers: Any) -> tuple[int, Any]:
        return 200, {"stores": self._stores()}

    def metadata(self, params: Params, headers: Any) -> tuple[int, Any]:
        clients = [m.to_json() for m in self.service.all_metadata()]
        return 200, {"application_id": self.streams.application_id, "clients": clients}

    def key_metadata(self, store: str, params: Params, headers: Any) -> tuple[int, Any]:
        self._store(store, ("key_value", "window", "session", "versioned"), "/metadata")
        key = self._key(store, params)
        meta = self._owner(store, key)
        if meta is None:
            raise ApiError(503, "no_metadata", "the app's group assignment is not available "
                           "(a rebalance, or a cluster without describe_consumer_groups)")
        return 200, meta.to_json()

    # -- queries ------------------------------------------------------------------------
    def _store(self, store: str, kinds: tuple[str, ...], endpoint: str) -> str:
        try:
            kind = self.service.store_kind(store)
        except UnknownStateStoreException as exc:
            raise ApiError(404, "unknown_store", str(exc)) from None
        if kind not in kinds:
            use = {"key_value": "/key or /range", "window": "/window",
                   "session": "/window?key=...", "versioned": "/versioned"}.get(kind, "another")
            raise ApiError(400, "wrong_store_type",
                           f"store {store!r} is a {kind} store; {endpoint} needs a "
                           f"{' or '.join(kinds)} store (use {use})", store_kind=kind)
        return kind

    def _key(self, store: str, params: Params, name: str = "key") -> Any:
        text = required(params, name, "the key to look up")
        return self._parse(store, params, text, name)

    def _parse(self, store: str, params: Params, text: str, what: str) -> Any:
        auto = self._auto.get(store)
        if auto is None:  # the store's key serde is fixed once the client exists
            try:
                serde = self.service.metadata.key_serde(store)
            except UnknownStateStoreException:
                serde = None
            auto = self._auto[store] = "auto" if serde is None else key_type_for(serde)
        if len(params) == 1:  # only the key: no key_type to read
            return parse_key(text, auto, what)
        return parse_key(text, key_type_param(params, auto), what)

    def key(self, store: str, params: Params, headers: Any, path: str) -> tuple[int, Any]:
        self._store(store, ("key_value",), "/key")
        key = self._key(store, params)
        query = TimestampedKeyQuery.with_key(key) if self._timestamped(store) else (
            KeyQuery.with_key(key))
        return self._keyed(store, key, query, params, headers, path)

    def versioned(self, store: str, params: Params, headers: Any, path: str
                  ) -> tuple[int, Any]:
        self._store(store, ("versioned",), "/versioned")
        key = self._key(store, params)
        as_of = integer(params, "as_of", None, 0, MAX_TIME_MS)
        start = integer(params, "from", None, 0, MAX_TIME_MS)
        end = integer(params, "to", None, 0, MAX_TIME_MS)
        query: Query
        if boolean(params, "all_versions") or start is not None or end is not None:
            if as_of is not None:
                raise bad("pass either as_of (one version) or from/to/all_versions "
                          "(several), not both")
            query = MultiVersionedKeyQuery.with_key(key).from_time(start).to_time(end)
        else:
            query = VersionedKeyQuery.with_key(key)
            if as_of is not None:
                query = query.as_of(as_of)
        return self._keyed(store, key, query, params, headers, path)

    def window(self, store: str, params: Params, headers: Any, path: str) -> tuple[int, Any]:
        kind = self._store(store, ("window", "session"), "/window")
        start = integer(params, "from", None, 0, MAX_TIME_MS)
        end = integer(params, "to", None, 0, MAX_TIME_MS)
        text = one(params, "key")
        query: Query
        if text is not None:
            key = self._parse(store, params, text, "key")
            if start is not None and end is not None and kind == "window":
                if start > end:
                    raise bad(f"from ({start}) must not be after to ({end})")
                query = WindowKeyQuery.with_key_and_window_start_range(key, start, end)
            elif start is None and end is None:
                query = WindowRangeQuery.with_key(key)
            else:
                raise bad("with a key, pass both from and to (window stores) or neither")
            return self._keyed(store, key, query, params, headers, path)
        if kind == "session":
            raise bad("a session store is queried by key: pass key=...")
        if start is None or end is None:
            raise bad("without a key, pass from and to (a window-start range)")
        if start > end:
            raise bad(f"from ({start}) must not be after to ({end})")
        limit = self._limit(params)
        result = self._local(store, WindowRangeQuery.with_window_start_range(start, end),
                             params)
        rows, served, position, truncated = self._gather(store, result, params, headers, path)
        rows.sort(key=lambda r: (r.get("window_start", 0), repr(r.get("key")),
                                 r.get("partition", -1)))
        return 200, {"store": store, "items": rows[:limit], "count": min(len(rows), limit),
                     "truncated": truncated or len(rows) > limit,
                     "partitions": sorted(p for p in served if p is not None),
                     "served_by": sorted(set(served.values())),
                     "position": position.to_json()}

    def _gather(self, store: str, result: StateQueryResult, params: Params, headers: Any,
                path: str) -> tuple[list[dict[str, Any]], dict[Any, str], Position, bool]:
        """This instance's rows plus those of every other instance owning partitions of
        ``store`` (asked with the same path, local_only), each partition counted once."""
        rows = _rows(result)
        partitions = sorted(result.partition_results)
        served: dict[Any, str] = {p: self.streams.client_id for p in partitions}
        position = result.position
        truncated = False
        local_only = boolean(params, "local_only") or headers.get(FORWARDED) is not None
        _fail_on_failures(result)  # a partition's failure is an error, not a gap in the page
        targets = [] if local_only else self._remotes(store, partitions)
        if targets:
            rows = json.loads(dumps(rows))  # the same JSON forms as the remote rows
            try:
                bodies = fanout.fetch_all(targets, path, headers.get("Authorization"),
                                          self.streams.client_id,
                                          _FANOUT_TIMEOUT_S + _wait_ms(params) / 1000)
            except fanout.FanoutError as exc:
                if exc.refused_request():
                    body = exc.body or {}
                    raise ApiError(exc.status or 400, str(body["error"]),
                                   str(body.get("message", "")),
                                   served_by=exc.client) from None
                self.service.metadata.invalidate()
                raise ApiError(503, "owner_unreachable", str(exc),
                               partitions=exc.partitions) from None
            position = position.copy()
            for target, body in bodies:
                truncated = truncated or bool(body.get("truncated"))
                for row in body.get("items", []):
                    if served.setdefault(row.get("partition"), target.client_id) == (
                            target.client_id):
                        rows.append(row)
                position.merge(Position.from_map(body.get("position") or {}))
        return rows, served, position, truncated

    def range(self, store: str, params: Params, headers: Any, path: str) -> tuple[int, Any]:
        self._store(store, ("key_value",), "/range")
        lower = self._optional_key(store, params, "from")
        upper = self._optional_key(store, params, "to")
        order = (one(params, "order") or "asc").strip().lower()
        if order not in ("asc", "desc"):
            raise bad(f"order must be asc or desc, got {order!r}")
        limit = self._limit(params)
        after_text = one(params, "after")
        after = NO_CURSOR if after_text is None else self._parse(store, params, after_text,
                                                                   "after")
        if after is not NO_CURSOR and "key_type" in params:
            self._fits(store, after, "after")
        query = RangeQuery.with_range(lower, upper).with_page(limit, after)
        if order == "desc":
            query = query.with_descending_keys()
        result = self._local(store, query, params)
        # gather the other instances' pages, then merge in key order
        rows, served, position, _ = self._gather(store, result, params, headers, path)
        page = fanout.merge_rows(rows, order == "desc", limit)
        return 200, {
            "store": store, "items": page, "count": len(page),
            # a full page may have a successor: pass this key as after= for the next one
            "next_after": page[-1]["key"] if len(page) == limit else None,
            "order": order, "partitions": sorted(p for p in served if p is not None),
            "served_by": sorted(set(served.values())),
            "position": position.to_json(),
        }

    def _remotes(self, store: str, local: list[int]) -> list[fanout.Remote]:
        try:
            return fanout.remotes(self.service, store, local)
        except UnknownStateStoreException:
            return []  # a global store: every instance holds all of it
        except Exception as exc:  # no group view: this instance's part, said so in logs
            log.warning("range on %r: cannot see the other instances (%s); answering with "
                        "the local partitions only", store, exc)
            return []

    # -- helpers ------------------------------------------------------------------------
    def _optional_key(self, store: str, params: Params, name: str) -> Any:
        text = one(params, name)
        if text is None:
            return None
        key = self._parse(store, params, text, name)
        if "key_type" in params:  # auto always gives the serde's type
            self._fits(store, key, name)
        return key

    def _limit(self, params: Params) -> int:
        cap = self.streams.config["streamnb.rest.page.max"]
        limit = integer(params, "limit", min(100, cap), 1)
        if limit > cap:
            raise bad(f"limit {limit} is above the largest page ({cap}, "
                      "streamnb.rest.page.max); walk the store page by page with after=...",
                      "page_too_large")
        return limit

    def _timestamped(self, store: str) -> bool:
        stamped = self._stamped.get(store)
        if stamped is None:  # the topology is fixed once the client exists
            builder = self.streams.topology.stores.get(store)
            stamped = self._stamped[store] = bool(getattr(builder, "timestamped", False))
        return stamped

    def _request(self, store: str, query: Query, params: Params,
                 partitions: set[int] | None = None) -> StateQueryRequest:
        # built at once, not through the chain of with_* copies (CPU under the GIL)
        if len(params) == 1 and "key" in params:  # only the key: nothing else to parse
            return StateQueryRequest(store, query, PositionBound.unbounded(),
                                     None if partitions is None else frozenset(partitions))
        return StateQueryRequest(store, query, position_bound(params),
                                 None if partitions is None else frozenset(partitions),
                                 boolean(params, "execution_info"))

    def _run(self, request: StateQueryRequest, params: Params) -> StateQueryResult:
        timeout_ms = _wait_ms(params)
        try:
            result = self.service.query(request, timeout_ms / 1000.0 if timeout_ms else None)
        except UnknownStateStoreException as exc:
            raise ApiError(404, "unknown_store", str(exc)) from None
        except InvalidStateStoreException as exc:
            raise ApiError(503, "not_running", str(exc)) from None
        if all(r.failure_reason is None for r in result.partition_results.values()):
            return result
        for partition, failure in sorted(result.failures().items()):
            if failure.failure_reason is FailureReason.NOT_UP_TO_BOUND:
                raise ApiError(409, "not_up_to_bound", failure.failure_message or "",
                               partition=partition, position=failure.position.to_json())
        return result

    def _local(self, store: str, query: Query, params: Params) -> StateQueryResult:
        return self._run(self._request(store, query, params), params)

    def _keyed(self, store: str, key: Any, query: Query, params: Params, headers: Any,
               path: str) -> tuple[int, Any]:
        meta = self._owner(store, key)
        forwarded = headers.get(FORWARDED) is not None
        if meta is not None and not meta.is_local and not forwarded and (
                meta.active_host.port > 0) and not boolean(params, "local_only"):
            if len(params) > 1:  # refuse here what the owner would refuse, before sending
                self._request(store, query, params)
            return self._forward(meta, path, headers, _wait_ms(params))
        if meta is not None and len(params) == 1 and type(query) in _DIRECT:
            read = self.service.read_key(store, meta.partition, query)
            if read is not None:  # the routed key query, straight to its partition
                value, position = read
                if value is None:
                    raise ApiError(404, "key_not_found", f"no value for key {key!r} in "
                                   f"store {store!r}", store=store, key=key)
                return 200, {"store": store, "key": key, "served_by": self.streams.client_id,
                             "position": position.to_json(), "partition": meta.partition,
                             **value_columns(value)}
        partitions = None if meta is None else {meta.partition}
        result = self._run(self._request(store, query, params, partitions), params)
        failures = () if all(r.failure_reason is None for r in (
            result.partition_results.values())) else result.failures().items()
        for partition, failure in failures:
            if failure.failure_reason is FailureReason.NOT_PRESENT:
                if boolean(params, "local_only") and meta is not None:
                    raise ApiError(404, "not_local",
                                   f"partition {partition} holding this key is on "
                                   f"{meta.client_id} at {meta.active_host}, not here "
                                   "(local_only=true)", partition=partition,
                                   active_host=str(meta.active_host))
                self.service.metadata.invalidate()
                raise ApiError(503, "not_present",
                               f"partition {partition} of store {store!r} holding this key is "
                               "not on this instance and its owner is unknown (a rebalance?); "
                               "retry shortly", partition=partition)
            raise _failed(failure)
        rows = _rows(result)
        body: dict[str, Any] = {"store": store, "key": key,
                                "served_by": self.streams.client_id,
                                "position": result.position.to_json()}
        if meta is not None:
            body["partition"] = meta.partition
        if isinstance(query, (KeyQuery, TimestampedKeyQuery, VersionedKeyQuery)):
            if not rows:
                raise ApiError(404, "key_not_found", f"no value for key {key!r} in store "
                               f"{store!r}", store=store, key=key)
            body.update({k: v for k, v in rows[0].items() if k != "key"})
        else:
            body["items"] = rows
            body["count"] = len(rows)
        if len(params) > 1:  # only with execution_info=true (next to key=...)
            info = [line for r in result.partition_results.values()
                    for line in r.execution_info]
            if info:
                body["execution_info"] = info
        return 200, body

    def _owner(self, store: str, key: Any) -> KeyQueryMetadata | None:
        try:
            return self.service.query_metadata_for_key(store, key)
        except UnknownStateStoreException as exc:
            raise ApiError(404, "unknown_store", str(exc)) from None
        except (ValueError, TypeError, SerializationException) as exc:
            # the key does not fit the store's key serde (e.g. key_type=int on str keys)
            raise self._unfit(store, key, "key", exc) from None
        except Exception:  # no group view (e.g. broker without the admin API): local only
            return None

    def _unfit(self, store: str, key: Any, what: str, exc: Exception) -> ApiError:
        auto = self._auto.get(store, "auto")
        hint = ("drop key_type (auto reads keys as the store's serde wants)" if auto != "auto"
                else "pass a key_type that gives the store's key type")
        return bad(f"{what} {key!r} ({type(key).__name__}) cannot be a key of store {store!r}: "
                   f"{exc}; {hint}", "malformed_key")

    def _fits(self, store: str, key: Any, what: str) -> None:
        """Refuse a bound or cursor the store's key serde cannot take (as ``_owner`` does
        for a key), rather than compare it with keys of another type: an empty page."""
        try:
            serde = self.service.metadata.key_serde(store)
        except UnknownStateStoreException:
            return  # a global store: its keys are checked where they are read
        try:
            serde.serialize(None, key)
        except (ValueError, TypeError, SerializationException) as exc:
            raise self._unfit(store, key, what, exc) from None

    def _forward(self, meta: KeyQueryMetadata, path: str, headers: Any, wait_ms: int = 0
                 ) -> tuple[int, Any]:
        url = meta.active_host.url + path
        request = urllib.request.Request(url, headers={FORWARDED: self.streams.client_id})
        auth = headers.get("Authorization")
        if auth:
            request.add_header("Authorization", auth)
        try:
            with urllib.request.urlopen(request, timeout=_FANOUT_TIMEOUT_S + wait_ms / 1000
                                        ) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            try:
                return exc.code, json.loads(exc.read() or b"null")
            except ValueError:
                return exc.code, {"error": "forwarded", "message": str(exc)}
        except (OSError, ValueError) as exc:
            self.service.metadata.invalidate()
            raise ApiError(503, "owner_unreachable",
                           f"the key lives on {meta.client_id} at {meta.active_host}, which "
                           f"did not answer: {exc}") from None


def _wait_ms(params: Params) -> int:
    """``timeout_ms``: how long to wait for a position bound (0: answer at once)."""
    if "timeout_ms" not in params:
        return 0
    return integer(params, "timeout_ms", 0, 0, _MAX_WAIT_MS) or 0


def _failed(failure: Any) -> ApiError:
    """The answer to a partition's failure: a store that cannot run the query is the
    caller's 400; anything else (the store failed) is a 500 that names it."""
    if failure.failure_reason is FailureReason.UNKNOWN_QUERY_TYPE:
        return ApiError(400, "wrong_store_type", failure.failure_message or "")
    return ApiError(500, failure.failure_reason.value.lower(), failure.failure_message or "")


def _fail_on_failures(result: StateQueryResult) -> None:
    """Raise for the first failed partition of a range or window query (``_run`` answered
    NOT_UP_TO_BOUND already): a page without it would look complete."""
    if all(r.failure_reason is None for r in result.partition_results.values()):
        return
    for _partition, failure in sorted(result.failures().items()):
        raise _failed(failure)


def _rows(result: StateQueryResult) -> list[dict[str, Any]]:
    rows = []
    for partition, r in sorted(result.partition_results.items()):
        if r.is_success():
            for row in result_rows(result.query, r.result):
                row["partition"] = partition
                rows.append(row)
    if result.global_result is not None and result.global_result.is_success():
        rows.extend(result_rows(result.query, result.global_result.result))
    return rows
