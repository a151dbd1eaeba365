"""HTTP routes of the exam API."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from exam_api import (
    accounts,
    assignments,
    attempts,
    auth,
    classes,
    contact,
    documents,
    invigilation,
    oidc,
    papers,
    phone_link,
    questions,
    requests,
    results,
    review,
    timeline,
)

routes: list[BaseRoute] = [
    # accounts helper: captcha + SMS login, register, reset, uploads, requests, review (A1-A5, B1-B7)
    *accounts.routes,
    *documents.routes,
    *requests.routes,
    *review.routes,
    Route("/api/auth/me", auth.me, methods=["GET"]),
    # single sign-on: the province's OpenID provider (issue #15)
    *oidc.routes,
    # papers helper: classes, banks, papers, attempts/answers, results (C1-C4, E7, F1-F2)
    *classes.routes,
    *questions.routes,
    *papers.routes,
    *attempts.routes,
    *results.routes,
    # integration helper: the phone's QR code and token (D3, D4)
    *phone_link.routes,
    # invigilation helper: room assignments, the invigilator wall, the evidence timeline (G5, H3-H5)
    *assignments.routes,
    *invigilation.routes,
    *timeline.routes,
    # two-way contact: messages, calls, room messages, preset texts (L1)
    *contact.routes,
]
