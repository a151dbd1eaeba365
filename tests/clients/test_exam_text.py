"""The exam page's catalogue lookups (static/js/exam-text.js, issue #14) in
Node: placeholders filled, and every ``exam.*`` key the page uses is in the
zh-CN catalogue static/js/i18n.js."""

from __future__ import annotations

from tests.clients.node import node_test


async def test_exam_text_in_node() -> None:
    code, output = await node_test(["exam-text.test.js"])
    assert code == 0, output
