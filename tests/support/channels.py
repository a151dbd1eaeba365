"""Reading an attempt's channel as a test subscriber would."""

from __future__ import annotations

from typing import Any

from hub.fanout import unpack


def messages_to(data: bytes | str, to: str) -> list[dict[str, Any]]:
    """The messages of one envelope addressed to ``to`` (none if malformed)."""
    return [
        item["m"]
        for item in unpack(data) or []
        if item["to"] == to and isinstance(item.get("m"), dict)
    ]
