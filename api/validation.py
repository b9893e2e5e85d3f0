"""Request validation errors in Vietnamese, without echoing what was sent.

FastAPI's default 422 repeats the input back (a 5,000-character message, or the phone number in
it) and speaks English. The shape stays what clients and the OpenAPI schema expect —
`{"detail": [{"loc", "msg", "type"}]}` — with `msg` in Vietnamese and no `input`.
"""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

MESSAGES = {
    "missing": "Thiếu trường bắt buộc",
    "string_too_long": "Quá dài: tối đa {max_length} ký tự",
    "string_too_short": "Quá ngắn: tối thiểu {min_length} ký tự",
    "string_pattern_mismatch": "Không đúng định dạng",
    "string_type": "Phải là chuỗi ký tự",
    "int_parsing": "Phải là số nguyên",
    "int_type": "Phải là số nguyên",
    "float_parsing": "Phải là số",
    "bool_parsing": "Phải là true hoặc false",
    "json_invalid": "Dữ liệu không phải JSON hợp lệ",
    "model_attributes_type": "Phải là một đối tượng JSON",
    "dict_type": "Phải là một đối tượng JSON",
    "list_type": "Phải là một danh sách",
    "extra_forbidden": "Trường này không được phép",
    "greater_than_equal": "Phải lớn hơn hoặc bằng {ge}",
    "less_than_equal": "Phải nhỏ hơn hoặc bằng {le}",
    "enum": "Giá trị không nằm trong danh sách cho phép",
    "literal_error": "Giá trị không nằm trong danh sách cho phép",
    # api.identity: REST chat speaks only for its own channels
    "channel_not_allowed": ("Kênh không hợp lệ: qua REST chỉ dùng kênh api hoặc web; tin nhắn Zalo, Telegram "
                            "chỉ đến qua webhook đã xác thực của kênh đó"),
}


def vietnamese(error: dict) -> dict:
    """One pydantic error as `{loc, msg, type}` with a Vietnamese message."""
    template = MESSAGES.get(error.get("type", ""), "Giá trị không hợp lệ")
    try:
        msg = template.format(**(error.get("ctx") or {}))
    except (KeyError, IndexError):
        msg = template.split(":")[0]
    return {"loc": list(error.get("loc", ())), "msg": msg, "type": error.get("type", "value_error")}


async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse(jsonable_encoder({"detail": [vietnamese(e) for e in exc.errors()]}), status_code=422)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
