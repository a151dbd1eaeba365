"""Unified social credit codes of organisations (GB 32100-2015).

Eighteen characters from a 31-character alphabet (digits and capitals without
I, O, S, V, Z): registration authority, organisation type, 6-digit region
code, 9-character organisation code and a check character computed modulo 31.
Rule B5 requires the check character to be verified.
"""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


class UsccError(ValueError):
    """A code that is not a valid unified social credit code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_char(first17: str) -> str:
    """The GB 32100 check character of the first 17 characters."""
    assert len(first17) == 17 and all(c in _VALUE for c in first17), first17
    total = sum(_VALUE[c] * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def parse_uscc(raw: str) -> str:
    """Return the normalised code, or raise ``UsccError`` (Chinese message)."""
    code = raw.strip().replace(" ", "").upper()
    if len(code) != 18:
        raise UsccError("uscc_length", "统一社会信用代码应为18位")
    bad = sorted({c for c in code if c not in _VALUE})
    if bad:
        raise UsccError(
            "uscc_format",
            "统一社会信用代码只能包含数字和大写字母（不含 I、O、S、V、Z），发现：" + "".join(bad),
        )
    if not code[2:8].isdigit():
        raise UsccError("uscc_format", "统一社会信用代码第3至8位应为行政区划代码（数字）")
    if check_char(code[:17]) != code[17]:
        raise UsccError("uscc_check_char", "统一社会信用代码校验位不正确，请核对后重新输入")
    return code
