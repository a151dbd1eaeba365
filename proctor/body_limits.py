"""Which routes may send how much, in one table (issue #9).

Every route gets the JSON default (``PROCTOR_HTTP_MAX_BODY``, 1 MiB, within
``PROCTOR_HTTP_BODY_TIMEOUT``); the two upload routes get their own
documented cap, the code their handler uses for "too large", and the upload
deadline.  The caps are the handlers' own constants, so the guard and the
handler can never disagree. (The phone's photos arrive over its websocket,
capped by the protocol's frame size, ``proctor/server.py``.) Part of the
wiring: it reads the packages' caps.
"""

from __future__ import annotations

import re

from exam_api.question_import import MAX_FILE_BYTES as MAX_QUESTION_FILE_BYTES
from exam_api.uploads import MAX_UPLOAD_BYTES
from proctor.http_guard import BodyLimits, BodyRule
from proctor.http_settings import HttpLimits


def body_limits(http: HttpLimits) -> BodyLimits:
    def upload(max_bytes: int, code: str, message: str) -> BodyRule:
        return BodyRule(max_bytes, http.upload_timeout_s, code, message)

    mb = 1024 * 1024
    return BodyLimits(
        default=BodyRule(http.max_body_bytes, http.body_timeout_s),
        routes=(
            (
                re.compile(r"/api/uploads"),  # rule B4: commitment letter, study proof
                upload(
                    MAX_UPLOAD_BYTES,
                    "upload_too_large",
                    f"文件过大：最大 {MAX_UPLOAD_BYTES // mb} MB",
                ),
            ),
            (
                re.compile(r"/api/admin/banks/\d+/import"),  # question bank CSV/JSON
                upload(
                    MAX_QUESTION_FILE_BYTES,
                    "file_too_large",
                    f"文件过大（最大 {MAX_QUESTION_FILE_BYTES // mb} MB）",
                ),
            ),
        ),
    )
