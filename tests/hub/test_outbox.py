"""The connection's bounded outbound line (hub/outbox.py): FIFO, bounded, one waiter."""

from __future__ import annotations

import asyncio

import pytest

from hub.outbox import Outbox, OutboxFull


async def test_items_come_out_in_order_and_a_waiting_writer_wakes() -> None:
    box: Outbox[str] = Outbox(4)
    waiting = asyncio.ensure_future(box.get())
    await asyncio.sleep(0)
    assert not waiting.done()  # nothing to send yet
    box.put_nowait("a")
    box.put_nowait("b")
    assert await waiting == "a"
    assert await box.get() == "b"
    assert box.empty() and len(box) == 0


async def test_a_full_line_refuses_instead_of_growing() -> None:
    """Nothing unbounded: a client that does not read is refused (and dropped by ws.py)."""
    box: Outbox[int] = Outbox(2)
    box.put_nowait(1)
    box.put_nowait(2)
    with pytest.raises(OutboxFull):
        box.put_nowait(3)
    assert len(box) == 2
    box.clear()  # a close jumps the line
    box.put_nowait(9)
    assert await box.get() == 9


async def test_a_cancelled_writer_leaves_the_line_usable() -> None:
    box: Outbox[str] = Outbox(2)
    waiting = asyncio.ensure_future(box.get())
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    box.put_nowait("after")  # no stale waiter is woken, the item stays
    assert await box.get() == "after"
