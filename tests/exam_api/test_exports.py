"""Results exports (rule M4): a class's results as CSV and XLSX with Chinese
headers, one paper or all, for reviewers and administrators only; a name
that a spreadsheet would run as a formula is defused."""

from __future__ import annotations

import csv
import io

import asyncpg
from openpyxl import load_workbook

from exam_api.exports import HEADERS, csv_lines, safe_cell
from tests.support.audit import sat_attempt
from tests.support.devices import Devices
from tests.support.live import LiveServer
from tests.support.papers import client_for
from tests.support.sittings import expect_ok, scheduled_sitting
from tests.support.users import create_user


def test_a_formula_in_a_cell_is_defused() -> None:
    assert [safe_cell(v) for v in ("=1+1", "+86", "-1", "@SUM(A1)", "张三", 60.0, None)] == [
        "'=1+1",
        "'+86",
        "'-1",
        "'@SUM(A1)",
        "张三",
        60.0,
        None,
    ]
    assert list(csv_lines(iter([['a "b"', "x,y\nz"]]))) == ['"a ""b""","x,y\nz"\r\n']


async def test_a_class_exports_as_csv_and_xlsx(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices
) -> None:
    sat = await sat_attempt(server, pool, devices)
    async with pool.acquire() as conn:  # a hostile name (rule: server trusts no client text)
        await conn.execute(
            "UPDATE users SET real_name = '=HYPERLINK(\"http://x\")' WHERE id = $1",
            sat["candidate"].id,
        )
        head = await conn.fetchval(
            "SELECT hash FROM audit_chain_heads WHERE attempt_id = $1", sat["attempt_id"]
        )
    base = f"/api/exports/classes/{sat['class_id']}/results"
    async with await client_for(server.url, pool, sat["reviewer"].id) as http:
        every = await http.get(f"{base}.csv")
        formal = await http.get(f"{base}.csv", params={"paper_id": sat["paper_id"]})
        book = await http.get(f"{base}.xlsx", params={"paper_id": sat["paper_id"]})
    assert every.status_code == 200 and every.headers["content-type"].startswith("text/csv")
    assert every.content.startswith("\ufeff".encode())  # Excel reads UTF-8
    rows = list(csv.reader(io.StringIO(every.content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == HEADERS and len(rows) == 3  # the mock and the formal attempt
    assert [r[5] for r in rows[1:]] == ["模拟考试", "正式考试"]
    [header, row] = list(csv.reader(io.StringIO(formal.content.decode("utf-8-sig"))))
    cells = dict(zip(header, row, strict=True))
    assert cells["考试记录编号"] == str(sat["attempt_id"])
    assert cells["考生姓名"] == '\'=HYPERLINK("http://x")'
    assert (cells["得分"], cells["结果"], cells["审核结论"]) == ("100.0", "合格", "合格")
    assert cells["结束原因"] == "考生交卷" and cells["违规次数"] == "0"  # the one was forgiven
    assert cells["记录链头"] == head  # rule H7: the head travels with the result
    assert book.status_code == 200
    assert (
        f"results-class-{sat['class_id']}-paper-{sat['paper_id']}.xlsx"
        in book.headers["content-disposition"]
    )
    sheet = load_workbook(io.BytesIO(book.content), read_only=True)["考试成绩"]
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert tuple(values[0]) == HEADERS and len(values) == 2
    xlsx = dict(zip(HEADERS, values[1], strict=True))
    assert xlsx["考试记录编号"] == sat["attempt_id"] and xlsx["得分"] == 100.0
    assert xlsx["考生姓名"] == '\'=HYPERLINK("http://x")' and xlsx["记录链头"] == head


async def test_exports_are_for_reviewers_and_administrators_and_check_their_scope(
    server: LiveServer, pool: asyncpg.Pool, devices: Devices
) -> None:
    sat = await sat_attempt(server, pool, devices)
    base = f"/api/exports/classes/{sat['class_id']}/results"
    for user_id in (sat["candidate"].id, sat["invigilator"].id):
        async with await client_for(server.url, pool, user_id) as http:
            for ext in ("csv", "xlsx"):
                assert (await http.get(f"{base}.{ext}")).status_code == 403
    admin = await create_user(pool, "admin")
    async with await client_for(server.url, pool, admin.id) as http:
        assert (await http.get(f"{base}.xlsx")).status_code == 200
        cases = [
            (f"{base}.csv?paper_id=abc", 400, "bad_paper_id"),
            (f"{base}.csv?paper_id=999999999", 404, "paper_not_found"),
            ("/api/exports/classes/999999999/results.csv", 404, "class_not_found"),
        ]
        for url, status, code in cases:
            reply = await http.get(url)
            assert (reply.status_code, reply.json()["error"]) == (status, code), url


async def test_a_sitting_exports_its_own_attempts(server: LiveServer, pool: asyncpg.Pool) -> None:
    # rules M1, M4: the results of one exam sitting, not of the whole class
    world = await scheduled_sitting(server.url, pool, 2)
    async with await client_for(server.url, pool, world.candidates[0].id) as http:
        sat = await expect_ok(http.post("/api/attempts", json={"paper_id": world.papers.formal_id}))
    sitting = world.sitting["id"]
    async with await client_for(server.url, pool, world.admin.id) as http:
        sheet = await http.get(f"/api/exports/sittings/{sitting}/results.csv")
        book = await http.get(f"/api/exports/sittings/{sitting}/results.xlsx")
        missing = await http.get("/api/exports/sittings/999999999/results.csv")
    assert sheet.status_code == 200, sheet.text
    rows = list(csv.reader(io.StringIO(sheet.content.decode("utf-8-sig"))))
    assert tuple(rows[0]) == HEADERS
    assert [r[0] for r in rows[1:]] == [str(sat["attempt_id"])]
    assert f"results-sitting-{sitting}.xlsx" in book.headers["content-disposition"]
    assert (missing.status_code, missing.json()["error"]) == (404, "sitting_not_found")
    async with await client_for(server.url, pool, world.invigilator.id) as http:
        assert (await http.get(f"/api/exports/sittings/{sitting}/results.csv")).status_code == 403
