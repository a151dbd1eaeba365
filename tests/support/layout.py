"""What a person sees of a page, checked in the real Chromium (issue #14):
nothing covers a button, no text runs over one, and what must be seen is
inside the viewport. Boxes come from the browser's own layout
(``getBoundingClientRect``, text ranges) and what is on top from its hit
test (``elementFromPoint``), so a fixed header over scrolled text or a modal
over the page is judged as the eye judges it."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page

_PROBLEMS_JS = r"""
(mustSee) => {
  const vw = document.documentElement.clientWidth;
  const vh = document.documentElement.clientHeight;
  const problems = [];
  const name = (n) => {
    if (!n) return 'nothing';
    if (n.nodeType !== 1) n = n.parentElement;
    return (n.dataset && n.dataset.testid) || n.id || `${n.tagName.toLowerCase()}${n.className ? '.' + n.className : ''}`;
  };
  const shown = (n) => {
    if (n.closest('[hidden]')) return false;
    const s = getComputedStyle(n);
    const r = n.getBoundingClientRect();
    return s.display !== 'none' && s.visibility !== 'hidden' && r.width > 0 && r.height > 0;
  };
  const owns = (node, hit) => Boolean(hit) && (hit === node || node.contains(hit));
  // a header fixed across the top: the page scrolls beneath it, so for what
  // scrolls the viewport starts at its bottom (that is scrolling, not covering)
  const fixed = (n) => {
    for (let a = n; a && a !== document.body; a = a.parentElement) {
      const p = getComputedStyle(a).position;
      if (p === 'fixed' || p === 'sticky' || a.tagName === 'DIALOG') return true;
    }
    return false;
  };
  let contentTop = 0;
  for (const n of document.body.querySelectorAll('*')) {
    if (getComputedStyle(n).position !== 'fixed' || !shown(n)) continue;
    const r = n.getBoundingClientRect();
    if (r.top <= 0.5 && r.width >= vw * 0.9) contentTop = Math.max(contentTop, r.bottom);
  }
  // the part of a box that can be seen: inside every clipping ancestor and the viewport
  const visiblePart = (rect, node) => {
    let l = rect.left, t = rect.top, r = rect.right, b = rect.bottom;
    for (let a = node.parentElement; a && a !== document.body; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (s.overflowX === 'visible' && s.overflowY === 'visible') continue;
      const c = a.getBoundingClientRect();
      l = Math.max(l, c.left); t = Math.max(t, c.top); r = Math.min(r, c.right); b = Math.min(b, c.bottom);
    }
    l = Math.max(l, 0); t = Math.max(t, fixed(node) ? 0 : contentTop); r = Math.min(r, vw); b = Math.min(b, vh);
    return r - l > 1 && b - t > 1 ? { l, t, r, b } : null;
  };
  const modal = document.querySelector('dialog[open]');
  const scope = modal || document.body;  // under a modal only the modal is reachable
  const buttons = [...scope.querySelectorAll('button, a[href]')].filter(shown);
  const parts = new Map();
  for (const button of buttons) {
    const part = visiblePart(button.getBoundingClientRect(), button);
    if (!part) continue;  // scrolled out of view
    parts.set(button, part);
    const inset = 3;
    const points = [[(part.l + part.r) / 2, (part.t + part.b) / 2], [part.l + inset, part.t + inset],
      [part.r - inset, part.t + inset], [part.l + inset, part.b - inset], [part.r - inset, part.b - inset]];
    for (const [x, y] of points) {
      const hit = document.elementFromPoint(x, y);
      if (!owns(button, hit)) {
        problems.push(`${name(hit)} covers the button ${name(button)} (“${button.textContent.trim()}”) at ${Math.round(x)},${Math.round(y)}`);
        break;
      }
    }
  }
  const walker = document.createTreeWalker(scope, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!node.textContent.trim() || !parent || !shown(parent)) continue;
    if (buttons.some((b) => b.contains(node))) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const rect of range.getClientRects()) {
      const part = visiblePart(rect, parent);
      if (!part) continue;
      const hit = document.elementFromPoint((part.l + part.r) / 2, (part.t + part.b) / 2);
      const onTop = owns(parent, hit);
      for (const [button, box] of parts) {
        const overlaps = part.l < box.r - 1 && part.r > box.l + 1 && part.t < box.b - 1 && part.b > box.t + 1;
        if (!overlaps) continue;
        if (onTop || owns(button, hit)) {
          problems.push(`the text “${node.textContent.trim().slice(0, 30)}” (${name(parent)}) overlaps the button ${name(button)}`);
        }
      }
    }
  }
  for (const selector of mustSee) {
    const n = document.querySelector(selector);
    if (!n || !shown(n)) { problems.push(`${selector} is not shown`); continue; }
    const r = n.getBoundingClientRect();
    if (r.top < -0.5 || r.left < -0.5 || r.bottom > vh + 0.5 || r.right > vw + 0.5) {
      problems.push(`${selector} is outside the viewport (${Math.round(r.left)},${Math.round(r.top)}–${Math.round(r.right)},${Math.round(r.bottom)} of ${vw}×${vh})`);
    }
  }
  if (document.documentElement.scrollWidth > vw + 1) problems.push(`the page scrolls sideways (${document.documentElement.scrollWidth} > ${vw})`);
  return problems;
}
"""


async def layout_problems(page: Page, must_see: list[str]) -> list[str]:
    """What is wrong with the page as it is on screen now (empty: nothing)."""
    problems: list[str] = await page.evaluate(_PROBLEMS_JS, must_see)
    return problems


async def check_layout(page: Page, shots: Path, label: str, must_see: list[str]) -> list[str]:
    """Save a screenshot of the page state as ``<label>.png`` under ``shots``
    (the test's temporary folder, never the repository) and return its
    problems, each prefixed with the label."""
    shots.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(shots / f"{label}.png"))
    return [f"{label}: {p}" for p in await layout_problems(page, must_see)]
