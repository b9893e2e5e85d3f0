"""Make the OpenAPI document describe the errors the API really returns.

FastAPI documents every 422 as its own `HTTPValidationError` (`detail` = list of objects). The
PAKN routes parse their bodies by hand and answer a Vietnamese `detail` *string*; Open311 answers
GeoReport's `[{"code", "description"}]`. Clients generated from the schema (and the schema fuzz
test) would reject those real responses, so the document is corrected here, in one place, for the
hand-parsed route groups — without touching the routes or the app-wide exception handlers.
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

DETAIL = {"title": "ErrorDetail", "type": "object", "required": ["detail"],
          "properties": {"detail": {"type": "string", "description": "thông báo lỗi bằng tiếng Việt"}}}
OPEN311_ERRORS = {"title": "Open311Errors", "type": "array",
                  "items": {"type": "object", "required": ["code", "description"],
                            "properties": {"code": {"type": "integer"}, "description": {"type": "string"}}}}
FASTAPI_422 = {"$ref": "#/components/schemas/HTTPValidationError"}
# path prefix → the schema of the errors its routes produce themselves
GROUPS = {"/api/v1/pakn": DETAIL, "/open311/v2": OPEN311_ERRORS}


def _fix(doc: dict[str, Any]) -> dict[str, Any]:
    for path, ops in doc.get("paths", {}).items():
        own = next((schema for prefix, schema in GROUPS.items() if path.startswith(prefix)), None)
        if own is None:
            continue
        for op in ops.values():
            resp = op.get("responses", {}).get("422")
            if not resp:
                continue
            # FastAPI's own parameter validation can still answer its standard shape.
            resp["description"] = "Dữ liệu không hợp lệ"
            resp["content"] = {"application/json": {"schema": {"anyOf": [own, FASTAPI_422]}}}
    return doc


def document_errors(app: FastAPI) -> None:
    """Replace `app.openapi` with a generator that corrects the error schemas (cached like FastAPI's)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _fix(get_openapi(title=app.title, version=app.version, openapi_version=app.openapi_version,
                                                  description=app.description, routes=app.routes, tags=app.openapi_tags,
                                                  servers=app.servers))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
