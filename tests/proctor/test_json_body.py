"""The one JSON body reader (proctor/json_body.py): hostile bodies are 400s, not 500s."""

from __future__ import annotations

import httpx
import pytest

from proctor.errors import ProctorError
from proctor.json_body import MAX_JSON_DEPTH, check_json_value
from tests.support.live import LiveServer

SURROGATE_LOGIN = (
    b'{"username": "\\ud800", "password": "\\ud800", "captcha_id": "\\ud800", "captcha": "\\ud800"}'
)


async def test_deeply_nested_json_is_a_400(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        r = await client.post(
            "/api/auth/login", content=b"[" * 200_000, headers={"content-type": "application/json"}
        )
    assert (r.status_code, r.json()["error"]) == (400, "json_too_deep")
    assert "嵌套" in r.json()["message"]


async def test_nesting_just_past_the_limit_is_a_400(server: LiveServer) -> None:
    body = b'{"a":' * MAX_JSON_DEPTH + b"1" + b"}" * MAX_JSON_DEPTH
    async with httpx.AsyncClient(base_url=server.url) as client:
        r = await client.post("/api/auth/login", content=b'{"x":' + body + b"}")
    assert (r.status_code, r.json()["error"]) == (400, "json_too_deep")


async def test_lone_surrogate_is_a_400(server: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        r = await client.post(
            "/api/auth/login", content=SURROGATE_LOGIN, headers={"content-type": "application/json"}
        )
    assert (r.status_code, r.json()["error"]) == (400, "bad_json")
    assert "Unicode" in r.json()["message"]


@pytest.mark.parametrize(
    "value",
    [{"k\ud800": 1}, {"a": ["ok", "\udfff"]}, {"a": {"b": {"c": "\ud83d"}}}],
)
def test_lone_surrogates_anywhere_are_refused(value: object) -> None:
    with pytest.raises(ProctorError) as caught:
        check_json_value(value)
    assert (caught.value.http_status, caught.value.code) == (400, "bad_json")


def test_real_emoji_and_chinese_pass() -> None:
    check_json_value({"name": "张三 😀", "list": [[["深"]]]})


def test_depth_is_counted_iteratively() -> None:
    deep: list[object] = []
    node = deep
    for _ in range(100_000):
        child: list[object] = []
        node.append(child)
        node = child
    with pytest.raises(ProctorError) as caught:
        check_json_value(deep)
    assert caught.value.code == "json_too_deep"
