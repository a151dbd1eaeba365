"""HTTP routes of the exam API."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from exam_api import attempts, auth

routes: list[BaseRoute] = [
    Route("/api/auth/login", auth.login, methods=["POST"]),
    Route("/api/auth/me", auth.me, methods=["GET"]),
    Route("/api/attempts", attempts.start_attempt, methods=["POST"]),
]
