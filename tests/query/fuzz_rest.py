"""Fuzz the REST API from its own OpenAPI document with schemathesis, within a time budget.

Every operation is tried with generated valid and invalid parameters, on random store names
and on each real store; any 5xx (or a response that contradicts the document's content
types) is collected as a failure rather than raised, so one test reports them all.
"""

from __future__ import annotations

import time

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import content_type_conformance, not_a_server_error
from schemathesis.core.failures import FailureGroup

STORES = ("tstore", "wstore", "vstore")


def fuzz(base_url: str, seconds: float = 20.0, examples: int = 2000
         ) -> tuple[list[str], int]:
    """(failures, number of calls) after fuzzing ``base_url`` for about ``seconds``."""
    schema = schemathesis.openapi.from_url(base_url + "/openapi.json")
    deadline = time.monotonic() + seconds
    session = requests.Session()
    failures: list[str] = []
    calls = [0]
    strategies = []
    for result in schema.get_all_operations():
        op = result.ok()
        stores = [None, *STORES] if "{store}" in op.path else [None]
        has_params = any(True for _ in op.iter_parameters())
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if has_params else [])
        for mode in modes:
            for store in stores:
                strategies.append(op.as_strategy(
                    mode, path_parameters={"store": store} if store else None))

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(case=st.one_of(strategies))
    def run(case: schemathesis.Case) -> None:
        if time.monotonic() >= deadline:
            raise _TimeUp
        if isinstance(case.query, dict) and "timeout_ms" in case.query:
            case.query["timeout_ms"] = 100  # a valid wait, kept short for the time budget
        calls[0] += 1
        response = case.call(base_url=base_url, session=session, timeout=10)
        try:
            case.validate_response(response, checks=[not_a_server_error,
                                                     content_type_conformance])
        except FailureGroup as exc:  # schemathesis' failures: collect, keep fuzzing
            failures.append(f"{case.method} {case.formatted_path} {case.query}: "
                            f"{response.status_code} {str(exc)[:300]}")

    try:
        run()
    except _TimeUp:
        pass
    return failures, calls[0]


class _TimeUp(Exception):
    """The fuzzing budget is spent."""
