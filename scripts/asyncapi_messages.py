"""Print the JSON Schema of the hub's client messages, made from the structs.

``python scripts/asyncapi_messages.py [pc|phone]`` prints the schema of the
text messages that device sends (both devices' without an argument), taken
from the ``msgspec.Struct`` declarations in ``hub/protocol.py``: the source to
compare ``docs/asyncapi.yaml`` with (``tests/hub/test_protocol.py`` checks the
message names, fields and required fields agree). The phone's binary photo
frame has no JSON schema.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's hub

import msgspec

from hub.protocol import PC_MESSAGES, PHONE_MESSAGES

UNIONS: dict[str, Any] = {
    "pc": PC_MESSAGES,
    "phone": PHONE_MESSAGES,
    "all": PC_MESSAGES | PHONE_MESSAGES,
}


def schema(device: str = "all") -> dict[str, Any]:
    """The JSON Schema of the text messages ``device`` sends (``all``: both)."""
    result: dict[str, Any] = msgspec.json.schema(UNIONS[device])
    return result


def main(argv: list[str]) -> int:
    device = argv[0] if argv else "all"
    if device not in UNIONS or len(argv) > 1:
        print(f"usage: asyncapi_messages.py [{'|'.join(UNIONS)}]", file=sys.stderr)
        return 2
    print(json.dumps(schema(device), indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
