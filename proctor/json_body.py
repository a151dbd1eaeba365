"""The one reader of JSON request bodies, for every package's endpoints.

Besides syntax it refuses nesting deeper than ``MAX_JSON_DEPTH`` (the parser
would recurse until ``RecursionError``) and strings with lone surrogates
(``"\\ud800"`` parses in Python but cannot be encoded as UTF-8 for
PostgreSQL), both of which were 500s (issue #9).
"""

from __future__ import annotations

import json

from starlette.requests import Request

from proctor.errors import ProctorError

# The deepest request the API takes is a few levels; 200000 "[" is an attack.
MAX_JSON_DEPTH = 32


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
    except RecursionError:
        raise _too_deep() from None
    except ValueError:
        raise BadBody(400, "bad_json", "请求体不是合法的 JSON") from None
    if not isinstance(data, dict):
        raise BadBody(400, "bad_json", "请求体必须是 JSON 对象")
    check_json_value(data)
    return data


def check_json_value(value: object, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise a 400 if ``value`` nests deeper than ``max_depth`` or holds a
    string that is not valid Unicode text. Iterative: it must not recurse itself."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise _too_deep()
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key)
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadBody(
            400, "bad_json", "请求体含有无效字符（不成对的 Unicode 代理码位），请检查输入内容"
        ) from None


def _too_deep() -> BadBody:
    return BadBody(400, "json_too_deep", f"请求体 JSON 嵌套过深（最多 {MAX_JSON_DEPTH} 层）")
