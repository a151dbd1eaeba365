"""The candidate's contact inbox (static/js/contact.js, rule L1) in Node: pure
logic, no server — repeats dropped, ``seen`` up to the first gap, the hand."""

from __future__ import annotations

from tests.clients.node import node_test


async def test_contact_inbox_in_node() -> None:
    code, output = await node_test(["contact.test.js"])
    assert code == 0, output
