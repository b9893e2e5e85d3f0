"""Property-based fuzzing of the chat, PAKN and Open311 routes from the app's own OpenAPI schema.

Schemathesis generates requests (valid and invalid) from `/openapi.json` and sends them to the
app in process (ASGI, no network). Every response must be a non-5xx that conforms to the schema
for its status code. Bounded: a few examples per operation, no deadline, rate limits off.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from settings import get_settings
from tests.fakes.triage import FakeTriage

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FUZZED = r"^/(api/v1/chat|api/v1/pakn|open311/v2)"


@pytest.fixture(autouse=True)
def fuzz_env(monkeypatch: pytest.MonkeyPatch, default_store: str):
    monkeypatch.setenv("DATABASE_URL", default_store)
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "0")  # the fuzzer is one client sending many requests
    get_settings.cache_clear()
    from pakn import service

    monkeypatch.setattr(service, "TRIAGE", FakeTriage())  # the classifier is tested elsewhere; keep calls fast
    yield
    get_settings.cache_clear()


def _app():
    from api.main import create_app

    return create_app()  # reads no settings at build time; requests read them through fuzz_env


schema = schemathesis.openapi.from_asgi("/openapi.json", _app()).include(path_regex=FUZZED)


@schema.parametrize()
@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
def test_no_server_errors_and_responses_match_the_schema(case) -> None:
    if case.path.endswith(("/reply", "/transition")):
        case.headers = {**(case.headers or {}), "Authorization": "Bearer not-the-staff-token"}
    case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])
