"""CSV/JSON question import: all-or-nothing, every error with its row (rule C4)."""

from __future__ import annotations

import json

from exam_api.question_import import MAX_FILE_BYTES, parse_question_file

CSV = """题型,题干,A,B,C,D,答案,分值,解析
单选,施工现场临时用电工程专用的电源中性点直接接地的低压电力线路中，必须采用哪种系统？,TN-S,TN-C,TT,IT,A,2,三级配电两级保护
多选,安全生产“三同时”指安全设施与主体工程同时：,设计,施工,投入生产和使用,验收,ABC,3,
判断,生产经营单位可以以货币形式代替发放劳动防护用品。,,,,,错,1,
"""


def test_csv_in_utf8_parses_three_kinds() -> None:
    parsed = parse_question_file(CSV.encode("utf-8"))
    assert parsed.errors == []
    kinds = [q.kind for q in parsed.questions]
    assert kinds == ["single", "multiple", "truefalse"]
    assert parsed.questions[1].answer == ["A", "B", "C"]
    assert parsed.questions[2].answer is False
    assert parsed.questions[0].explanation == "三级配电两级保护"


def test_csv_saved_by_excel_as_gbk_or_with_bom() -> None:
    assert parse_question_file(CSV.encode("gb18030")).questions
    assert len(parse_question_file(b"\xef\xbb\xbf" + CSV.encode("utf-8")).questions) == 3


def test_every_bad_row_is_reported_and_nothing_is_kept_usable() -> None:
    bad = (
        CSV
        + "单选,缺答案的题,甲,乙,,,,2,\n填空,未知题型,甲,乙,,,A,2,\n单选,选项有缺口,甲,乙,,丁,A,2,\n"
    )
    parsed = parse_question_file(bad.encode("utf-8"))
    assert not parsed.ok
    assert [(e.row, e.field) for e in parsed.errors] == [
        (5, "answer"),
        (6, "kind"),
        (7, "options"),
    ]


def test_duplicate_question_in_one_file_is_an_error() -> None:
    lines = CSV.splitlines()
    parsed = parse_question_file(("\n".join([*lines, lines[1]]) + "\n").encode("utf-8"))
    assert [(e.row, e.field) for e in parsed.errors] == [(5, "stem")]
    assert "第 2 行" in parsed.errors[0].message


def test_missing_header_columns() -> None:
    parsed = parse_question_file("题干,答案\n某题,A\n".encode())
    assert parsed.errors[0].row == 1
    assert "题型" in parsed.errors[0].message and "分值" in parsed.errors[0].message


def test_json_list_and_object_forms() -> None:
    items = [
        {"kind": "single", "stem": "题一", "options": ["甲", "乙"], "answer": "B", "points": 5},
        {"题型": "判断", "题干": "题二", "答案": "对", "分值": 5},
    ]
    for document in (items, {"questions": items}):
        parsed = parse_question_file(json.dumps(document, ensure_ascii=False).encode())
        assert parsed.errors == []
        assert [q.answer for q in parsed.questions] == ["B", True]


def test_json_errors_carry_positions() -> None:
    parsed = parse_question_file(b'[{"kind": "single", "stem": "x"}, 3]')
    assert [(e.row, e.field) for e in parsed.errors] == [(1, "options"), (2, "file")]
    assert parse_question_file(b'{"questions": 5}').errors[0].row == 0
    assert "JSON" in parse_question_file(b"[{,}]").errors[0].message


def test_binary_empty_and_oversized_files() -> None:
    assert parse_question_file(b"PK\x03\x04\x00\x00zip").errors[0].field == "file"
    assert parse_question_file(b"  \n").errors[0].message == "文件是空的"
    huge = parse_question_file(b"a" * (MAX_FILE_BYTES + 1))
    assert "过大" in huge.errors[0].message
    header_only = parse_question_file("题型,题干,A,B,答案,分值\n".encode())
    assert header_only.errors[0].message == "文件中没有题目"


def test_options_column_with_pipes() -> None:
    parsed = parse_question_file("题型,题干,选项,答案,分值\n单选,题,甲|乙|丙,C,2\n".encode())
    assert parsed.questions[0].options == ("甲", "乙", "丙")
