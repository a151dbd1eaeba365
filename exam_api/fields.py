"""Reading typed fields out of a JSON body, each failure a precise 400."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from exam_api.errors import ApiError


def int_field(
    body: Mapping[str, object], name: str, label: str, *, low: int = 1, high: int = 2**62
) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, f"bad_{name}", f"{label}必须是整数")
    if not low <= value <= high:
        raise ApiError(400, f"bad_{name}", f"{label}应在 {low}–{high} 之间")
    return value


def text_field(
    body: Mapping[str, object], name: str, label: str, *, max_chars: int, required: bool = True
) -> str:
    value = body.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ApiError(400, f"bad_{name}", f"{label}必须是文字")
    text = value.strip()
    if required and not text:
        raise ApiError(400, f"missing_{name}", f"请填写{label}")
    if len(text) > max_chars:
        raise ApiError(400, f"bad_{name}", f"{label}过长（{len(text)} 字，最多 {max_chars} 字）")
    return text


def time_field(body: Mapping[str, object], name: str, label: str) -> datetime | None:
    """An ISO 8601 time with its zone (``2026-12-01T09:00:00+08:00``), or None."""
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"bad_{name}", f"{label}格式错误")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(400, f"bad_{name}", f"{label}“{value[:40]}”不是有效的时间") from None
    if moment.tzinfo is None:
        raise ApiError(400, f"bad_{name}", f"{label}必须带时区，如 +08:00")
    return moment


def path_id(value: object) -> int:
    """A path parameter declared ``{x:int}``; Starlette already converted it."""
    assert isinstance(value, int)
    return value
