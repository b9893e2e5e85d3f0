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
    yield
    get_settings.cache_clear()


def _app():
    from api.main import create_app

    # Reads no settings at build time (requests read them through fuzz_env); the classifier is
    # tested elsewhere: a fake triage keeps calls fast.
    return create_app(triage=FakeTriage())


schema = schemathesis.openapi.from_asgi("/openapi.json", _app()).include(path_regex=FUZZED)


@schema.parametrize()
@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
def test_no_server_errors_and_responses_match_the_schema(case) -> None:
    if case.path.endswith(("/reply", "/transition")):
        case.headers = {**(case.headers or {}), "Authorization": "Bearer not-the-staff-token"}
    case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])


# The probe's date edges (issue 15, finding 6), sent through the same schema machinery.
EDGE_DATES = [{"start_date": "9999-12-31T23:59:59", "end_date": "0001-01-01"},
              {"start_date": "0001-01-01T00:00:00+14:00"}, {"end_date": "0001-01-01T00:00:00"},
              {"start_date": "9999-12-31T23:59:59+14:00"}, {"end_date": "2026-13-45"}]


@pytest.mark.parametrize("query", EDGE_DATES)
def test_open311_listing_date_edges(query) -> None:
    case = schema["/open311/v2/requests.{fmt}"]["GET"].Case(path_parameters={"fmt": "json"}, query=query)
    response = case.call()
    assert response.status_code == 400
    case.validate_response(response, checks=[not_a_server_error])


def _console_app():
    """The app serving an OpenAPI document of the console's pages (left out of the public one)."""
    import copy

    from fastapi.openapi.utils import get_openapi
    from fastapi.routing import APIRoute

    from console.routes import router as console_router

    app = _app()
    routes = []
    for route in console_router.routes:
        if isinstance(route, APIRoute):
            route = copy.copy(route)
            route.include_in_schema = True
            routes.append(route)
    app.openapi_schema = get_openapi(title="console", version="0", routes=routes)
    return app


console_schema = (schemathesis.openapi.from_asgi("/openapi.json", _console_app())
                  .include(path_regex=r"^/console/(inbox|dashboard|duties|pakn)", method="GET"))


@pytest.fixture
def staff_cookie(default_store: str) -> dict[str, str]:
    import uuid

    from console import auth
    from db import session_scope

    with session_scope(default_store) as db:
        user = auth.create_user(db, email=f"fuzz-{uuid.uuid4().hex[:6]}@example.vn",
                                password="Fuzz-ngay-02/12-chac-chan", role="admin")
        value = auth.create_session(db, user)
    return {auth.SESSION_COOKIE: value}


@console_schema.parametrize()
@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
def test_console_pages_never_fail_on_odd_filters(case, staff_cookie) -> None:
    case.cookies = {**(case.cookies or {}), **staff_cookie}
    response = case.call(base_url="https://testserver")
    case.validate_response(response, checks=[not_a_server_error])


@pytest.mark.parametrize("query", [{"due_before": "9999-12-31"}, {"due_before": "0001-01-01"},
                                   {"due_before": "2026-02-30"}, {"page": "999999999"}])
def test_console_inbox_date_edges(query, staff_cookie) -> None:
    case = console_schema["/console/inbox"]["GET"].Case(query=query, cookies=staff_cookie)
    response = case.call(base_url="https://testserver")
    assert response.status_code == 200
