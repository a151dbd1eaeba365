"""All visible text is in the zh-CN catalogue (issue #14): a page's HTML and
its modules hold no Chinese outside comments; they name keys of
``static/js/i18n.js`` (``data-i18n`` in the HTML, ``t()`` in the modules), so
the wording is reviewed in one place. Static: read from the files."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "static"
CATALOGUE = STATIC / "js" / "i18n.js"

# Chinese characters and the full-width punctuation that goes with them
CHINESE = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")

NOT_YET: dict[str, str] = {}  # every page converted (issue #14)
# Files that can never import the catalogue, with why.
NEVER = {
    # runs in engines without ES modules (nomodule, rule A6): it cannot import
    "js/old-browser.js": "nomodule script for IE and old engines",
}


def _without_js_comments(source: str) -> str:
    """The source with ``//`` and ``/* */`` comments blanked; strings,
    template literals and regular expressions kept as they are."""
    out: list[str] = []
    i, n = 0, len(source)
    last = ""  # the last significant character of code, to tell a regex from a division
    while i < n:
        c = source[i]
        if source.startswith("//", i):
            i = source.find("\n", i)
            i = n if i < 0 else i
            continue
        if source.startswith("/*", i):
            end = source.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        if c in "'\"`" or (c == "/" and (last == "" or last in "(,=:[!&|?{};+-*%<>~^")):
            j = i + 1
            in_class = False
            while j < n:
                d = source[j]
                if d == "\\":
                    j += 2
                    continue
                if c == "/" and d == "[":
                    in_class = True
                elif c == "/" and d == "]":
                    in_class = False
                elif d == c and not in_class:
                    break
                elif d == "\n" and c != "`":
                    break
                j += 1
            out.append(source[i : j + 1])
            last = c
            i = j + 1
            continue
        out.append(c)
        if not c.isspace():
            last = c
        i += 1
    return "".join(out)


def _without_html_comments(source: str) -> str:
    return re.sub(r"<!--.*?-->", "", source, flags=re.S)


def _page_files() -> list[str]:
    files = [p.relative_to(STATIC).as_posix() for p in STATIC.glob("*.html")]
    files += [p.relative_to(STATIC).as_posix() for p in (STATIC / "js").glob("*.js")]
    return sorted(f for f in files if STATIC / f != CATALOGUE)


def _chinese_lines(name: str) -> list[str]:
    text = (STATIC / name).read_text(encoding="utf-8")
    code = _without_html_comments(text) if name.endswith(".html") else _without_js_comments(text)
    return [line.strip() for line in code.splitlines() if CHINESE.search(line)]


def test_converted_pages_hold_no_chinese_outside_the_catalogue() -> None:
    found = {
        name: lines[:3]
        for name in _page_files()
        if name not in NOT_YET and name not in NEVER and (lines := _chinese_lines(name))
    }
    assert found == {}, "move these strings into static/js/i18n.js and look them up by key"


def test_the_allow_list_is_not_stale() -> None:
    # a file converted (or gone) leaves the list, so the list says what is left
    stale = [n for n in NOT_YET if not (STATIC / n).exists() or not _chinese_lines(n)]
    assert stale == []


def test_every_key_the_pages_name_is_in_the_catalogue() -> None:
    catalogue = set(re.findall(r"^\s*'([\w.-]+)':", CATALOGUE.read_text(encoding="utf-8"), re.M))
    named: dict[str, set[str]] = {}
    for name in _page_files():
        text = (STATIC / name).read_text(encoding="utf-8")
        if name.endswith(".html"):
            keys = set(re.findall(r'data-i18n(?:-[\w-]+)?="([^"]+)"', text))
        else:
            keys = set(re.findall(r"\bt\('([\w.-]+)'", _without_js_comments(text)))
        if missing := keys - catalogue:
            named[name] = missing
    assert named == {}


def test_the_comment_stripper_keeps_strings_and_drops_comments() -> None:
    source = "const a = '中文'; // 注释\n/* 块注释 */ const r = /a\\/b/g; const u = 'http://x';\n"
    kept = _without_js_comments(source)
    assert "中文" in kept and "注释" not in kept and "http://x" in kept


def _entries() -> list[tuple[str, str]]:
    text = CATALOGUE.read_text(encoding="utf-8")
    return re.findall(r"^\s*'([\w.-]+)': '((?:[^'\\]|\\.)*)',", text, re.M)


def test_one_key_per_text_and_one_text_per_key() -> None:
    # a key twice in the object literal would silently keep the last one; a
    # text under two keys would be reviewed (and changed) in two places
    entries = _entries()
    keys = [k for k, _ in entries]
    assert sorted({k for k in keys if keys.count(k) > 1}) == []
    by_text: dict[str, list[str]] = {}
    for key, text in entries:
        by_text.setdefault(text, []).append(key)
    assert {text: ks for text, ks in by_text.items() if len(ks) > 1} == {}
