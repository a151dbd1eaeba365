"""The zh-CN catalogue's lookups (static/js/i18n.js, issue #14) in Node:
``t()`` with named places, ``applyI18n()`` on a page's keyed elements (jsdom)."""

from __future__ import annotations

from tests.clients.node import node_test


async def test_catalogue_lookups_in_node() -> None:
    code, output = await node_test(["i18n.test.js"])
    assert code == 0, output
