"""What a question is, and which answers fit it (rule C4). Pure: no I/O.

Three kinds, as on the province's paper:

- ``single``    单选题: options A…, exactly one correct letter.
- ``multiple``  多选题: options A…, two or more correct letters; all-or-nothing.
- ``truefalse`` 判断题: fixed options 正确 / 错误; the answer is a boolean.

Answers, correct or given, have one canonical JSON form so that comparing
them is plain equality: ``"B"`` for single, ``["A", "C", "D"]`` (sorted,
unique) for multiple, ``true``/``false`` for true/false.

Used by the bank editor, the CSV/JSON import and the answer endpoint, so the
three agree on what is valid.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["single", "multiple", "truefalse"]
KINDS: tuple[Kind, ...] = ("single", "multiple", "truefalse")
KIND_LABELS: dict[Kind, str] = {"single": "单选题", "multiple": "多选题", "truefalse": "判断题"}
TRUEFALSE_OPTIONS: tuple[str, str] = ("正确", "错误")

LETTERS = "ABCDEFGH"
MIN_OPTIONS = 2
MAX_OPTIONS = len(LETTERS)
MAX_STEM_CHARS = 1000
MAX_OPTION_CHARS = 300
MAX_EXPLANATION_CHARS = 2000
MIN_POINTS = 0.5
MAX_POINTS = 100.0

Answer = str | list[str] | bool


class QuestionError(ValueError):
    """A question or an answer that does not fit its kind.

    ``field`` names the offending part (``stem``, ``options``, ``answer``,
    ``points``, ``kind``, ``explanation``); ``message`` is readable Chinese.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class QuestionDraft:
    """A validated question, not yet stored."""

    kind: Kind
    stem: str
    options: tuple[str, ...]
    answer: Answer
    points: float
    explanation: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "stem": self.stem,
            "options": list(self.options),
            "answer": self.answer,
            "points": self.points,
            "explanation": self.explanation,
        }


def parse_kind(value: object) -> Kind:
    """Accept the English code or the Chinese label (单选/单选题/…)."""
    text = str(value or "").strip().lower()
    aliases: dict[str, Kind] = {
        "single": "single",
        "单选": "single",
        "单选题": "single",
        "multiple": "multiple",
        "多选": "multiple",
        "多选题": "multiple",
        "truefalse": "truefalse",
        "true_false": "truefalse",
        "判断": "truefalse",
        "判断题": "truefalse",
    }
    kind = aliases.get(text)
    if kind is None:
        raise QuestionError("kind", f"未知题型“{text[:20]}”，应为 单选 / 多选 / 判断")
    return kind


def _clean_text(field: str, value: object, limit: int, label: str, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise QuestionError(field, f"{label}必须是文字")
    text = value.strip()
    if required and not text:
        raise QuestionError(field, f"{label}不能为空")
    if len(text) > limit:
        raise QuestionError(field, f"{label}过长（{len(text)} 字，最多 {limit} 字）")
    return text


def _parse_points(value: object) -> float:
    if isinstance(value, bool):
        raise QuestionError("points", "分值必须是数字")
    try:
        points = float(str(value).strip()) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise QuestionError("points", f"分值“{str(value)[:20]}”不是数字") from None
    if not (MIN_POINTS <= points <= MAX_POINTS) or points * 2 != int(points * 2):
        raise QuestionError("points", f"分值应在 {MIN_POINTS}–{MAX_POINTS:g} 之间，且为 0.5 的倍数")
    return points


def parse_truefalse(value: object) -> bool:
    """A true/false answer from JSON or a spreadsheet cell."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if value is not None else ""
    if text in ("true", "t", "1", "对", "正确", "√", "是", "y", "yes"):
        return True
    if text in ("false", "f", "0", "错", "错误", "×", "x", "否", "n", "no"):
        return False
    raise QuestionError("answer", f"判断题答案“{text[:20]}”应为 正确 或 错误")


def _letters(value: object) -> list[str]:
    """Letters from ``"ACD"``, ``"A,C,D"``, ``"a c d"`` or ``["A", "C"]``."""
    if isinstance(value, list):
        parts = [str(item).strip().upper() for item in value]
    elif isinstance(value, str):
        parts = [ch for ch in value.upper() if ch not in " ,，、;；|/"]
    else:
        raise QuestionError("answer", "答案应为选项字母，如 A 或 ACD")
    return parts


def canonical_choice(kind: Kind, value: object, option_count: int) -> Answer:
    """The canonical answer for ``kind`` (see module doc), or QuestionError.

    Used for a correct answer (bank, import) and for a candidate's answer.
    """
    if kind == "truefalse":
        return parse_truefalse(value)
    letters = _letters(value)
    allowed = LETTERS[:option_count]
    for letter in letters:
        if len(letter) != 1 or letter not in allowed:
            raise QuestionError(
                "answer", f"选项“{letter[:5]}”不存在，可选 {allowed[0]}–{allowed[-1]}"
            )
    if len(set(letters)) != len(letters):
        raise QuestionError("answer", "同一选项出现了两次")
    if kind == "single":
        if len(letters) != 1:
            raise QuestionError("answer", "单选题只能选一个选项")
        return letters[0]
    if not letters:
        raise QuestionError("answer", "多选题至少选一个选项")
    return sorted(letters)


def build_question(
    *,
    kind: object,
    stem: object,
    options: object = None,
    answer: object,
    points: object,
    explanation: object = "",
) -> QuestionDraft:
    """Validate raw fields (from a form, JSON or a CSV row) into a draft."""
    parsed_kind = parse_kind(kind)
    clean_stem = _clean_text("stem", stem, MAX_STEM_CHARS, "题干", required=True)
    if parsed_kind == "truefalse":
        clean_options: tuple[str, ...] = TRUEFALSE_OPTIONS
    else:
        if not isinstance(options, list | tuple):
            raise QuestionError("options", "选项应为列表")
        clean_options = tuple(
            _clean_text("options", opt, MAX_OPTION_CHARS, f"选项 {LETTERS[i]}", required=True)
            for i, opt in enumerate(options[:MAX_OPTIONS])
        )
        if len(options) > MAX_OPTIONS:
            raise QuestionError("options", f"选项最多 {MAX_OPTIONS} 个")
        if len(clean_options) < MIN_OPTIONS:
            raise QuestionError("options", f"选择题至少需要 {MIN_OPTIONS} 个选项")
        if len(set(clean_options)) != len(clean_options):
            raise QuestionError("options", "选项内容重复")
    correct = canonical_choice(parsed_kind, answer, len(clean_options))
    if parsed_kind == "multiple" and isinstance(correct, list) and len(correct) < 2:
        raise QuestionError("answer", "多选题的正确答案至少有两个选项")
    return QuestionDraft(
        kind=parsed_kind,
        stem=clean_stem,
        options=clean_options,
        answer=correct,
        points=_parse_points(points),
        explanation=_clean_text(
            "explanation", explanation, MAX_EXPLANATION_CHARS, "解析", required=False
        ),
    )


def fingerprint(draft: QuestionDraft) -> str:
    """Identity of a question inside a bank: kind + stem + options.

    A re-import of the same file finds every question already present and
    adds nothing (the import is idempotent).
    """
    payload = json.dumps([draft.kind, draft.stem, list(draft.options)], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
