"""Administrator: classes, banks, question import, papers (rules C1, C2, C4)."""

from __future__ import annotations

import json

import asyncpg
import httpx

from tests.support.live import LiveServer
from tests.support.papers import candidate_with_request, client_for
from tests.support.users import create_user, unique

CSV = (
    "题型,题干,A,B,C,D,答案,分值,解析\n"
    "单选,{tag}施工现场临时用电应采用哪种系统？,TN-S,TN-C,TT,IT,A,40,\n"
    "多选,{tag}“三宝”是指？,安全帽,安全带,安全网,手套,ABC,30,\n"
    "判断,{tag}可以用货币替代劳动防护用品。,,,,,错,30,\n"
)


async def _admin(server: LiveServer, pool: asyncpg.Pool) -> httpx.AsyncClient:
    admin = await create_user(pool, "admin")
    client: httpx.AsyncClient = await client_for(server.url, pool, admin.id)
    return client


async def test_admin_builds_a_class_with_mock_and_formal(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    candidate = await candidate_with_request(pool)
    tag = unique("t")
    async with await _admin(server, pool) as http:
        r = await http.post("/api/admin/classes", json={"name": f"班级{tag}"})
        assert r.status_code == 201
        class_id = r.json()["id"]
        r = await http.post("/api/admin/classes", json={"name": f"班级{tag}"})
        assert (r.status_code, r.json()["error"]) == (409, "class_exists")
        r = await http.post("/api/admin/classes", json={"name": "班" * 101})
        assert (r.status_code, r.json()["error"]) == (400, "bad_name")
        r = await http.post("/api/admin/classes", json={"name": "  "})
        assert (r.status_code, r.json()["error"]) == (400, "missing_name")
        r = await http.post("/api/admin/classes", json={"name": ["列表"]})
        assert (r.status_code, r.json()["error"]) == (400, "bad_name")
        r = await http.post(
            f"/api/admin/classes/{class_id}/members", json={"username": candidate.username}
        )
        assert r.status_code == 200
        r = await http.post(
            f"/api/admin/classes/{class_id}/members", json={"username": candidate.username}
        )
        assert r.status_code == 200  # enrolling twice is harmless
        r = await http.post(
            f"/api/admin/classes/{class_id}/members", json={"username": "nobody_here"}
        )
        assert (r.status_code, r.json()["error"]) == (404, "user_not_found")
        detail = (await http.get(f"/api/admin/classes/{class_id}")).json()
        assert [m["username"] for m in detail["members"]] == [candidate.username]

        bank_id = (await http.post("/api/admin/banks", json={"name": f"题库{tag}"})).json()["id"]
        r = await http.post(
            f"/api/admin/banks/{bank_id}/import", content=CSV.format(tag=tag).encode("gb18030")
        )
        assert r.status_code == 200, r.text
        assert r.json() == {"added": 3, "skipped": 0, "errors": []}
        # importing the same file again is idempotent
        r = await http.post(
            f"/api/admin/banks/{bank_id}/import", content=CSV.format(tag=tag).encode()
        )
        assert r.json() == {"added": 0, "skipped": 3, "errors": []}

        for kind in ("mock", "formal"):
            r = await http.post(
                "/api/admin/papers",
                json={
                    "class_id": class_id,
                    "kind": kind,
                    "title": f"{kind}{tag}",
                    "time_limit_s": 1800,
                    "opens_at": "2026-01-01T08:00:00+08:00",
                    "bank_id": bank_id,
                },
            )
            assert r.status_code == 201, r.text
            assert r.json()["question_count"] == 3
        papers = [
            p
            for p in (await http.get("/api/admin/papers")).json()["papers"]
            if p["class_id"] == class_id
        ]
        assert {p["kind"] for p in papers} == {"mock", "formal"}
        assert all(p["total_points"] == 100 for p in papers)

    async with await client_for(server.url, pool, candidate.id) as cand:
        states = {p["kind"]: p["state"] for p in (await cand.get("/api/papers")).json()["papers"]}
    assert states == {"mock": "open", "formal": "locked"}  # rule C2


async def test_bad_import_stores_nothing_and_lists_every_row(
    server: LiveServer, pool: asyncpg.Pool
) -> None:
    tag = unique("t")
    bad = CSV.format(tag=tag) + "单选,缺答案,甲,乙,,,,2,\n判断,坏分值,,,,,对,很多,\n"
    async with await _admin(server, pool) as http:
        bank_id = (await http.post("/api/admin/banks", json={"name": f"题库{tag}"})).json()["id"]
        r = await http.post(f"/api/admin/banks/{bank_id}/import", content=bad.encode())
        assert (r.status_code, r.json()["error"]) == (400, "import_invalid")
        assert [(e["row"], e["field"]) for e in r.json()["errors"]] == [
            (5, "answer"),
            (6, "points"),
        ]
        assert "未导入任何题目" in r.json()["message"]
        assert (await http.get(f"/api/admin/banks/{bank_id}/questions")).json()["questions"] == []
        # a zip pretending to be a CSV, and a file over the cap
        r = await http.post(
            f"/api/admin/banks/{bank_id}/import", content=b"PK\x03\x04" + b"\x00" * 100
        )
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "file"
        r = await http.post(f"/api/admin/banks/{bank_id}/import", content=b"x" * (3 * 1024 * 1024))
        assert (r.status_code, r.json()["error"]) == (413, "file_too_large")
        r = await http.post(
            "/api/admin/banks/999999999/import", content=CSV.format(tag=tag).encode()
        )
        assert (r.status_code, r.json()["error"]) == (404, "bank_not_found")


async def test_single_question_and_json_import(server: LiveServer, pool: asyncpg.Pool) -> None:
    tag = unique("t")
    async with await _admin(server, pool) as http:
        bank_id = (await http.post("/api/admin/banks", json={"name": f"题库{tag}"})).json()["id"]
        question = {
            "kind": "single",
            "stem": f"{tag}<b>题</b>",
            "options": ["甲", "乙"],
            "answer": "B",
            "points": 5,
        }
        assert (
            await http.post(f"/api/admin/banks/{bank_id}/questions", json=question)
        ).status_code == 201
        r = await http.post(f"/api/admin/banks/{bank_id}/questions", json=question)
        assert (r.status_code, r.json()["error"]) == (409, "question_exists")
        r = await http.post(
            f"/api/admin/banks/{bank_id}/questions", json={**question, "answer": "C"}
        )
        assert (r.status_code, r.json()["error"]) == (400, "bad_answer")
        doc = {"questions": [{"题型": "判断", "题干": f"{tag}判断题", "答案": "正确", "分值": 2}]}
        r = await http.post(
            f"/api/admin/banks/{bank_id}/import",
            content=json.dumps(doc, ensure_ascii=False).encode(),
        )
        assert r.json()["added"] == 1
        items = (await http.get(f"/api/admin/banks/{bank_id}/questions")).json()["questions"]
        assert [q["stem"] for q in items] == [f"{tag}<b>题</b>", f"{tag}判断题"]  # stored as typed


async def test_paper_input_errors(server: LiveServer, pool: asyncpg.Pool) -> None:
    tag = unique("t")
    async with await _admin(server, pool) as http:
        class_id = (await http.post("/api/admin/classes", json={"name": f"班级{tag}"})).json()["id"]
        base = {
            "class_id": class_id,
            "kind": "mock",
            "title": "卷",
            "time_limit_s": 1800,
            "question_ids": [],
        }
        cases = [
            ({**base, "kind": "exam"}, "bad_kind"),
            ({**base, "time_limit_s": 5}, "bad_time_limit_s"),
            ({**base, "title": ""}, "missing_title"),
            ({**base, "title": "卷" * 101}, "bad_title"),
            ({**base, "opens_at": "明天"}, "bad_opens_at"),
            ({**base, "opens_at": "2026-12-01T09:00:00"}, "bad_opens_at"),
            ({**base, "question_ids": [1, 1]}, "duplicate_questions"),
            ({**base, "question_ids": [999999999]}, "unknown_questions"),
            ({**base, "question_ids": []}, "no_questions"),
            ({**base, "question_ids": "1,2"}, "bad_question_ids"),
            (
                {
                    **base,
                    "opens_at": "2026-12-02T09:00:00+08:00",
                    "closes_at": "2026-12-01T09:00:00+08:00",
                    "question_ids": [1],
                },
                "bad_window",
            ),
        ]
        for body, code in cases:
            r = await http.post("/api/admin/papers", json=body)
            assert r.status_code == 400 and r.json()["error"] == code, (body, r.text)
        r = await http.post(
            "/api/admin/papers", json={**base, "class_id": 999999999, "question_ids": [1]}
        )
        assert r.status_code == 404


async def test_random_draw_per_kind(server: LiveServer, pool: asyncpg.Pool) -> None:
    # 随机组卷: n questions of each kind drawn once, at creation
    tag = unique("t")
    async with await _admin(server, pool) as http:
        class_id = (await http.post("/api/admin/classes", json={"name": f"班级{tag}"})).json()["id"]
        bank_id = (await http.post("/api/admin/banks", json={"name": f"题库{tag}"})).json()["id"]
        await http.post(f"/api/admin/banks/{bank_id}/import", content=CSV.format(tag=tag).encode())
        base = {
            "class_id": class_id,
            "kind": "mock",
            "title": "抽题卷",
            "time_limit_s": 600,
            "bank_id": bank_id,
        }
        r = await http.post(
            "/api/admin/papers", json={**base, "pick": {"single": 1, "truefalse": 1}}
        )
        assert r.status_code == 201 and r.json()["question_count"] == 2
        r = await http.post("/api/admin/papers", json={**base, "pick": {"multiple": 2}})
        assert (r.status_code, r.json()["error"]) == (400, "not_enough_questions")
        assert "多选题只有 1 题" in r.json()["message"]
        r = await http.post("/api/admin/papers", json={**base, "pick": {"essay": 1}})
        assert (r.status_code, r.json()["error"]) == (400, "bad_pick")
        r = await http.post("/api/admin/papers", json={**base, "pick": {"single": -1}})
        assert (r.status_code, r.json()["error"]) == (400, "bad_single")
        r = await http.post("/api/admin/papers", json={**base, "bank_id": 999999999})
        assert (r.status_code, r.json()["error"]) == (404, "bank_not_found")
