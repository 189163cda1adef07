"""The OpenAPI 3 description of the REST API (served at /openapi.json, used by fuzz tests)."""

from __future__ import annotations

from typing import Any

_ERROR = {"type": "object", "required": ["error", "message"],
          "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}
_OBJECT = {"type": "object"}


def _json(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": schema or _OBJECT}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "Bad input (malformed key or parameter, wrong store type)",
            401: "Missing or wrong bearer token", 404: "Unknown store or key",
            409: "The store partition is behind the requested position",
            503: "Not running, or the key's partition is moving (retry)"}
    return {str(c): _json(text[c], _ERROR) for c in codes}


def _param(name: str, description: str, schema: dict[str, Any], required: bool = False
           ) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema}


_STORE = {"name": "store", "in": "path", "required": True, "description": "State store name",
          "schema": {"type": "string", "minLength": 1}}
_KEY_TYPE = _param("key_type", "How to read keys: auto (from the store's key serde), "
                   "string, int, float or json", {"type": "string", "enum": [
                       "auto", "string", "int", "float", "json"]})
_POSITION = _param("position", "Position bound as JSON {topic: {partition: offset}}",
                   {"type": "string"})
_TIMEOUT = _param("timeout_ms", "Wait up to this long for the position bound",
                  {"type": "integer", "minimum": 0, "maximum": 60000})
_INFO = _param("execution_info", "Include execution info", {"type": "boolean"})
_LOCAL = _param("local_only", "Do not forward to the owning instance", {"type": "boolean"})
_KEY = _param("key", "The key", {"type": "string"}, required=True)
#: a time in ms: Kafka's timestamps are longs
_TIME = {"type": "integer", "minimum": 0, "maximum": 2**63 - 1}
_COMMON = [_KEY_TYPE, _POSITION, _TIMEOUT, _INFO]


def _get(summary: str, params: list[dict[str, Any]], ok: dict[str, Any], *errors: int,
         secured: bool = True) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "parameters": params,
                          "responses": {"200": ok, **_errors(*errors)}}
    if not secured:
        op["security"] = []
    return {"get": op}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.0 document of every endpoint."""
    store_errors = (400, 401, 404, 409, 503)
    return {
        "openapi": "3.0.3",
        "info": {"title": "streamnb interactive queries", "version": "1",
                 "description": "Read-only access to a streamnb app's state stores, status, "
                                "metrics and health (Kafka Streams IQv2 over REST)."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}, {}],
        "paths": {
            "/health/live": _get("Liveness: the process serves requests", [],
                                 _json("Alive"), secured=False),
            "/health/ready": {"get": {
                "summary": "Readiness: RUNNING and every store restored", "parameters": [],
                "security": [],
                "responses": {"200": _json("Ready"), "503": _json("Not ready yet")}}},
            "/metrics": {"get": {
                "summary": "Kafka Streams metrics, Prometheus text format", "parameters": [],
                "responses": {"200": {"description": "Metrics",
                                      "content": {"text/plain": {"schema": {"type": "string"}}}},
                              **_errors(401)}}},
            "/openapi.json": _get("This document", [], _json("OpenAPI 3 document"), 401),
            "/v1/status": _get("App state, threads and their tasks, stores", [],
                               _json("Status"), 401),
            "/v1/stores": _get("The app's stores with kinds and local partitions", [],
                               _json("Stores"), 401),
            "/v1/metadata": _get("Every instance of the app: endpoint and partitions", [],
                                 _json("Instances"), 401),
            "/v1/stores/{store}/metadata": _get(
                "Which instance and partition hold a key", [_STORE, _KEY, _KEY_TYPE],
                _json("KeyQueryMetadata"), 400, 401, 404),
            "/v1/stores/{store}/key": _get(
                "Value of a key in a key-value store (routed to its owner)",
                [_STORE, _KEY, *_COMMON, _LOCAL], _json("The value"), *store_errors),
            "/v1/stores/{store}/range": _get(
                "One page of a key range of a key-value store over every instance of the "
                "app (merged in key order; local_only=true: this instance's partitions)",
                [_STORE, _param("from", "Lowest key (inclusive)", {"type": "string"}),
                 _param("to", "Highest key (inclusive)", {"type": "string"}),
                 _param("order", "asc or desc", {"type": "string", "enum": ["asc", "desc"]}),
                 _param("limit", "Page size (at most streamnb.rest.page.max)",
                        {"type": "integer", "minimum": 1}),
                 _param("after", "Start after this key (next_after of the previous page)",
                        {"type": "string"}), *_COMMON,
                 _param("local_only", "Only this instance's partitions (no fan-out)",
                        {"type": "boolean"})],
                _json("A page of entries"), *store_errors),
            "/v1/stores/{store}/window": _get(
                "Windows of a key (routed), or of all keys by window start, gathered from "
                "every instance (local_only=true: this instance's partitions)",
                [_STORE, _param("key", "The key (optional)", {"type": "string"}),
                 _param("from", "Lowest window start (ms)", _TIME),
                 _param("to", "Highest window start (ms)", _TIME),
                 _param("limit", "Most windows returned without a key",
                        {"type": "integer", "minimum": 1}), *_COMMON, _LOCAL],
                _json("Windows"), *store_errors),
            "/v1/stores/{store}/versioned": _get(
                "A version of a key (latest or as_of), or its versions in [from, to]",
                [_STORE, _KEY, _param("as_of", "Time (ms)", _TIME),
                 _param("from", "From time (ms)", _TIME),
                 _param("to", "To time (ms)", _TIME),
                 _param("all_versions", "Every retained version", {"type": "boolean"}),
                 *_COMMON, _LOCAL],
                _json("Version(s)"), *store_errors),
        },
    }
