"""The one reader of JSON request bodies, for every package's endpoints."""

from __future__ import annotations

import json

from starlette.requests import Request

from proctor.errors import ProctorError


class BadBody(ProctorError):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message)
        self.http_status = status


async def json_body(request: Request, max_bytes: int = 1_000_000) -> dict[str, object]:
    """The request's JSON object, or a 400/413 with a readable reason."""
    body = await request.body()
    if len(body) > max_bytes:
        raise BadBody(413, "body_too_large", f"请求体过大（上限 {max_bytes} 字节）")
    try:
        data = json.loads(body or b"null")
    except ValueError:
        raise BadBody(400, "bad_json", "请求体不是合法的 JSON") from None
    if not isinstance(data, dict):
        raise BadBody(400, "bad_json", "请求体必须是 JSON 对象")
    return data
