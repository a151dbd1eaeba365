"""Errors of the exam API: an HTTP status, a code, and a message a person can read."""

from __future__ import annotations

from proctor.errors import ProctorError
from proctor.json_body import json_body


class ApiError(ProctorError):
    """Raised by handlers; rendered as ``{"error": code, "message": message}``
    by the app's one handler for :class:`~proctor.errors.ProctorError`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(code, message)
        self.http_status = status

    @property
    def status(self) -> int:
        return self.http_status


__all__ = ["ApiError", "json_body"]
