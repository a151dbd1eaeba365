"""HTTP routes of the exam API."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from exam_api import (
    accounts,
    assignments,
    attempts,
    audit,
    auth,
    classes,
    contact,
    documents,
    evidence_bundle,
    exports,
    extra_time,
    id_photo,
    identity_check,
    identity_review,
    invigilation,
    oidc,
    papers,
    phone_link,
    questions,
    requests,
    result_figures,
    results,
    review,
    rooms,
    sittings,
    timeline,
    webhooks,
)

routes: list[BaseRoute] = [
    # accounts helper: captcha + SMS login, register, reset, uploads, requests, review (A1-A5, B1-B7)
    *accounts.routes,
    *id_photo.routes,  # rule I1
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
    *identity_check.routes,  # rule I2
    *results.routes,
    *result_figures.routes,  # issue #14: the administrator's charts
    # integration helper: the phone's QR code and token (D3, D4)
    *phone_link.routes,
    # invigilation helper: room assignments, the invigilator wall, the evidence timeline (G5, H3-H5)
    *assignments.routes,
    *invigilation.routes,
    *identity_review.routes,  # rule I2: the invigilator admits or refuses
    *timeline.routes,
    # sittings helper: sittings and rooms, extra time, resume (M1-M3)
    *sittings.routes,
    *rooms.routes,
    *extra_time.routes,
    # the tamper-evident record, evidence bundles, exports, webhooks (H7, M4)
    *audit.routes,
    *evidence_bundle.routes,
    *exports.routes,
    *webhooks.routes,
    # two-way contact: messages, calls, room messages, preset texts (L1)
    *contact.routes,
]
