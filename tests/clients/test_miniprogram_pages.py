"""The mini-program's pages (miniprogram/pages/*) in miniprogram-simulate, with
the RecordingWx adapter of tests/js/recording-wx.js as `wx` (the only fake):
binding by scanning the PC's QR code (rule D3), the paper entry, the camera rear by default and
flipped, the screen kept on, the start photo as a PH frame, asleep on hide and
page_return on show (D4, H2), the early end confirmed (D5)."""

from __future__ import annotations

from tests.clients.node import node_test


async def test_miniprogram_pages_in_simulate() -> None:
    code, output = await node_test(["miniprogram-pages.test.js"])
    assert code == 0, output
