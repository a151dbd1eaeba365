"""Let aiortc offer a 127.0.0.1 host candidate, for loopback-only hosts.

aioice's host-address discovery leaves 127.0.0.1 out by design, so an aiortc
peer on a machine whose only reachable interface is loopback (tests, the
benchmark, a single-box demo with Chromium's
``--allow-loopback-in-peer-connection``) never connects. FIELD-NOTES: both
sides need it. Production servers leave this off (``rtc_loopback`` setting).
"""

from __future__ import annotations

from collections.abc import Callable

import aioice.ice

_original: Callable[[bool, bool], list[str]] | None = None


def _with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    assert _original is not None
    addresses = _original(use_ipv4, use_ipv6)
    if use_ipv4 and "127.0.0.1" not in addresses:
        addresses.append("127.0.0.1")
    return addresses


def enable_loopback_candidates() -> None:
    """Make every later ICE gathering include 127.0.0.1 (idempotent)."""
    global _original
    if _original is None:
        _original = aioice.ice.get_host_addresses
        aioice.ice.get_host_addresses = _with_loopback


def disable_loopback_candidates() -> None:
    """Undo :func:`enable_loopback_candidates` (idempotent)."""
    global _original
    if _original is not None:
        aioice.ice.get_host_addresses = _original  # type: ignore[assignment]
        _original = None


# The name the app's skeleton uses.
install_loopback_candidates = enable_loopback_candidates
