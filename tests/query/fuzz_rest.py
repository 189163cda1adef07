"""Fuzz the REST API from its own OpenAPI document with schemathesis, within a time budget.

Every operation is tried with generated valid and invalid parameters, on random store names
and on each real store; any 5xx (or a response that contradicts the document's content
types) is collected as a failure rather than raised, so one test reports them all.

The cases are random on each run (that is how they find bugs), but never unrepeatable:
the hypothesis seed is printed, and each failure carries it and the request as a curl
command. ``STREAMNB_FUZZ_SEED=<seed>`` (or ``fuzz(..., seed=...)``) replays a run.
"""

from __future__ import annotations

import os
import random
import shlex
import time

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import content_type_conformance, not_a_server_error
from schemathesis.core.failures import FailureGroup

STORES = ("tstore", "wstore", "vstore")


SEED_VARIABLE = "STREAMNB_FUZZ_SEED"


def fuzz(base_url: str, seconds: float = 20.0, examples: int = 2000, seed_value: int | None = None
         ) -> tuple[list[str], int]:
    """(failures, number of calls) after fuzzing ``base_url`` for about ``seconds``.

    ``seed_value`` (else ``$STREAMNB_FUZZ_SEED``, else a fresh random one) seeds hypothesis;
    it is printed and written into every failure."""
    if seed_value is None:
        text = os.environ.get(SEED_VARIABLE, "").strip()
        seed_value = int(text) if text else random.SystemRandom().randrange(2**64)
    print(f"fuzzing {base_url} with hypothesis seed {seed_value} "
          f"(replay: {SEED_VARIABLE}={seed_value})")
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

    @seed(seed_value)
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(case=st.one_of(strategies))
    def run(case: schemathesis.Case) -> None:
        if time.monotonic() >= deadline:
            raise _TimeUp
        if isinstance(case.query, dict) and "timeout_ms" in case.query:
            case.query["timeout_ms"] = 100  # a valid wait, kept short for the time budget
        calls[0] += 1
        try:
            response = case.call(base_url=base_url, session=session, timeout=30)
        except requests.RequestException as exc:  # no answer at all: as bad as a 5xx
            failures.append(f"{_replay(case, base_url, None)}\n  no answer: {exc}\n"
                            f"  ({SEED_VARIABLE}={seed_value})")
            return
        try:
            case.validate_response(response, checks=[not_a_server_error,
                                                     content_type_conformance])
        except FailureGroup as exc:  # schemathesis' failures: collect, keep fuzzing
            failures.append(f"{_replay(case, base_url, response)}\n  {response.status_code} "
                            f"{response.text[:300]}\n  {str(exc)[:300]}\n"
                            f"  ({SEED_VARIABLE}={seed_value})")

    try:
        run()
    except _TimeUp:
        pass
    return failures, calls[0]


def _replay(case: schemathesis.Case, base_url: str, response: requests.Response | None
            ) -> str:
    """A curl command sending exactly the failing request (the URL as it went out)."""
    if response is not None and response.request.url:
        method, url = response.request.method or case.method, response.request.url
    else:
        try:
            prepared = requests.Request(**case.as_transport_kwargs(base_url=base_url)).prepare()
            method, url = prepared.method or case.method, prepared.url or ""
        except Exception:  # noqa: BLE001 - a replay line must not hide the failure
            method, url = case.method, f"{base_url}{case.formatted_path} query={case.query}"
    return f"curl -sS -g -i -X {method} {shlex.quote(url)}"


class _TimeUp(Exception):
    """The fuzzing budget is spent."""
