"""HTTP routes of the WebRTC ingest."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from webrtc.ingest import offer

routes: list[BaseRoute] = [
    Route("/api/rtc/offer", offer, methods=["POST"]),
]
