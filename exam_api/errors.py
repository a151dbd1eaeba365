"""Errors of the exam API: an HTTP status, a code, and a message a person can read."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


class ApiError(Exception):
    """Raised by handlers; rendered as ``{"error": code, "message": message}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def api_error_response(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse({"error": exc.code, "message": exc.message}, status_code=exc.status)


async def json_body(request: Request, max_bytes: int = 1_000_000) -> dict[str, object]:
    """The request's JSON object, or a 400/413 with a readable reason."""
    body = await request.body()
    if len(body) > max_bytes:
        raise ApiError(413, "body_too_large", f"请求体过大（上限 {max_bytes} 字节）")
    import json

    try:
        data = json.loads(body or b"null")
    except ValueError:
        raise ApiError(400, "bad_json", "请求体不是合法的 JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "bad_json", "请求体必须是 JSON 对象")
    return data
