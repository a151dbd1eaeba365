"""HTTP routes of the exam API."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from exam_api import accounts, attempts, auth, documents, requests, review

routes: list[BaseRoute] = [
    # accounts helper: captcha + SMS login, register, reset, uploads, requests, review (A1-A5, B1-B7)
    *accounts.routes,
    *documents.routes,
    *requests.routes,
    *review.routes,
    Route("/api/auth/me", auth.me, methods=["GET"]),
    Route("/api/attempts", attempts.start_attempt, methods=["POST"]),
]
