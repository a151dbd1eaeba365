"""Debian's Chromium driven by Playwright, with a fake camera and a fake screen (see FIELD-NOTES)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from playwright.async_api import Browser, Playwright

CHROMIUM = os.environ.get("PROCTOR_CHROMIUM", "/usr/bin/chromium")

BASE_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    # rule J1: getDisplayMedia shares Chromium's fake "Entire screen" (1280x720,
    # displaySurface "monitor") without a picker, from an http://127.0.0.1 page
    "--auto-select-desktop-capture-source=Entire screen",
]


def write_y4m(path: Path, frames: list[np.ndarray], fps: int = 15) -> Path:
    """Write RGB frames (H×W×3 uint8) as a YUV4MPEG2 (4:2:0) file for Chromium's fake camera."""
    height, width = frames[0].shape[:2]
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            r, g, b = (rgb[..., i].astype(np.float32) for i in range(3))
            y = 0.299 * r + 0.587 * g + 0.114 * b
            u = (b - y) * 0.564 + 128
            v = (r - y) * 0.713 + 128
            out.write(b"FRAME\n")
            out.write(np.clip(y, 0, 255).astype(np.uint8).tobytes())
            for plane in (u, v):
                sub = plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))
                out.write(np.clip(sub, 0, 255).astype(np.uint8).tobytes())
    return path


async def launch_chromium(
    pw: Playwright,
    fake_video: Path | None = None,
    extra_args: list[str] | None = None,
) -> Browser:
    """Playwright gives each launch a fresh profile folder of its own."""
    args = [*BASE_ARGS, *(extra_args or [])]
    if fake_video is not None:
        args.append(f"--use-file-for-fake-video-capture={fake_video}")
    return await pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
