"""Exam requests: the candidate's wizard (rules B1–B5) and its status (B6).

    GET  /api/requests/mine     → {status, request|null}     (the latest request, for home and 个人审核)
    GET  /api/training/me       → the training record behind the non-social path (B2)
    POST /api/requests          → 201 {status, request}        (wizard submit, all or nothing)

``request_status(conn, user_id)`` answers the papers module's question of
rule C3: may this candidate see papers?  (Only when ``'approved'``.)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import asyncpg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from exam_api import training
from exam_api.auth import require_role
from exam_api.errors import ApiError, json_body
from exam_api.id_photo import is_id_photo
from exam_api.idcard import IdCardError, parse_id_card
from exam_api.identity import FieldError, check_phone, check_text
from exam_api.services import exam_services
from exam_api.uscc import UsccError, parse_uscc
from proctor.state import base

Status = Literal["none", "pending", "approved", "rejected"]
CANDIDATE_TYPES = ("social", "non_social")
GENDERS = {"male": "男", "female": "女"}
DOCUMENT_NAMES = {
    "commitment_letter": "企业法人承诺书",
    "study_proof": "学习证明材料",
    "id_photo": "证件照",  # rule I1
}


async def request_status(conn: Any, user_id: int) -> Status:
    """The state of the candidate's latest exam request (rule C3 asks for 'approved')."""
    status: str | None = await conn.fetchval(
        "SELECT status FROM exam_requests WHERE user_id = $1 ORDER BY id DESC LIMIT 1", user_id
    )
    if status is None:
        return "none"
    assert status in ("pending", "approved", "rejected"), status
    return status  # type: ignore[return-value]


def training_lookup(request: Request) -> training.TrainingLookup:
    """The training-system client the wiring passed in (rule B7; the imported table)."""
    return exam_services(request).training


_REQUEST_COLUMNS = """id, user_id, candidate_type, category, training_hours, real_name, id_card,
    gender, phone, company_name, company_uscc, position, status, reason, submitted_at,
    decided_at, decided_by"""


async def load_request(conn: Any, request_id: int) -> dict[str, Any] | None:
    """One request with its documents, as the API shows it."""
    row = await conn.fetchrow(
        f"SELECT {_REQUEST_COLUMNS} FROM exam_requests WHERE id = $1", request_id
    )
    return None if row is None else await _view(conn, row)


async def latest_request(conn: Any, user_id: int) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {_REQUEST_COLUMNS} FROM exam_requests WHERE user_id = $1 ORDER BY id DESC LIMIT 1",
        user_id,
    )
    return None if row is None else await _view(conn, row)


async def _view(conn: Any, row: Any) -> dict[str, Any]:
    docs = await conn.fetch(
        """SELECT d.role, u.id, u.kind, u.original_name, u.size
             FROM exam_request_documents d JOIN uploads u ON u.id = d.upload_id
            WHERE d.request_id = $1 ORDER BY d.role""",
        row["id"],
    )
    hours = row["training_hours"]
    return {
        "id": row["id"],
        "user_id": row["user_id"],
        "candidate_type": row["candidate_type"],
        "category": row["category"],
        "category_name": training.CATEGORY_NAMES[row["category"]],
        "training_hours": None if hours is None else float(hours),
        "real_name": row["real_name"],
        "id_card": row["id_card"],
        "gender": row["gender"],
        "phone": row["phone"],
        "company_name": row["company_name"],
        "company_uscc": row["company_uscc"],
        "position": row["position"],
        "status": row["status"],
        "reason": row["reason"],
        "submitted_at": row["submitted_at"].isoformat(),
        "decided_at": row["decided_at"].isoformat() if row["decided_at"] else None,
        "documents": [
            {
                "role": d["role"],
                "role_name": DOCUMENT_NAMES[d["role"]],
                "upload_id": d["id"],
                "kind": d["kind"],
                "name": d["original_name"],
                "size": d["size"],
                "url": f"/api/uploads/{d['id']}",
            }
            for d in docs
        ],
    }


@dataclass(frozen=True)
class Submission:
    candidate_type: str
    category: str
    training_hours: Decimal | None
    real_name: str
    id_card: str
    gender: str
    phone: str
    company_name: str
    company_uscc: str
    position: str
    documents: dict[str, int]  # role → upload id


def _upload_id(value: object, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise FieldError("document_missing", f"请上传{label}")
    return value


def validate_personal(body: dict[str, object], today: dt.date) -> dict[str, str]:
    """Step 3 (rule B5): the starred fields, each with its own precise error."""
    real_name = check_text(body.get("real_name"), "真实姓名", code="bad_real_name")
    raw_id = body.get("id_card")
    try:
        card = parse_id_card(raw_id if isinstance(raw_id, str) else "", today=today)
    except IdCardError as exc:
        raise FieldError(exc.code, exc.message) from None
    gender = body.get("gender")
    if gender not in GENDERS:
        raise FieldError("bad_gender", "请选择性别")
    if gender != card.gender:
        raise FieldError("gender_mismatch", "性别与身份证号码不一致，请核对")
    phone = check_phone(body.get("phone"))
    company = check_text(body.get("company_name"), "企业名称", code="bad_company_name", max_len=100)
    raw_uscc = body.get("company_uscc")
    try:
        uscc = parse_uscc(raw_uscc if isinstance(raw_uscc, str) else "")
    except UsccError as exc:
        raise FieldError(exc.code, exc.message) from None
    position = check_text(body.get("position"), "职务", code="bad_position", max_len=50)
    return {
        "real_name": real_name,
        "id_card": card.number,
        "gender": str(gender),
        "phone": phone,
        "company_name": company,
        "company_uscc": uscc,
        "position": position,
    }


def validate_submission(
    body: dict[str, object],
    record: training.TrainingRecord | None,
    registered_id_card: str | None,
    today: dt.date,
    id_photo_required: bool = False,
) -> Submission:
    """The whole wizard's input, checked in the order of its steps (B1 → B2/B3 → B5).
    The ID photo (rule I1) is required when the face check is on, else optional."""
    kind = body.get("candidate_type")
    if kind not in CANDIDATE_TYPES:
        raise FieldError("bad_candidate_type", "请选择考生类型（社会化或非社会化）")
    documents = {"commitment_letter": _upload_id(body.get("commitment_letter"), "企业法人承诺书")}
    hours: Decimal | None = None
    if kind == "non_social":
        # rule B2: hours and category come from the training record, not from the form
        if record is None:
            raise FieldError(
                "training_not_found",
                "未查询到您在从业人员在线辅导系统的学习记录，请选择社会化考生或联系培训机构",
            )
        if not record.complete:
            raise FieldError("training_hours_short", _hours_message(record))
        category, hours = record.category, record.hours
    else:
        category = str(body.get("category") or "")
        if category not in training.CATEGORIES:
            raise FieldError("bad_category", "请选择考试类型（A、B、C1 或 C2）")
        documents["study_proof"] = _upload_id(body.get("study_proof"), "学习证明材料")  # rule B3
    if id_photo_required or body.get("id_photo") is not None:
        documents["id_photo"] = _upload_id(body.get("id_photo"), "证件照")  # rule I1
    personal = validate_personal(body, today)
    if registered_id_card and personal["id_card"] != registered_id_card:
        raise FieldError("id_card_mismatch", "身份证号码须与注册时填写的一致")
    if record is not None and kind == "non_social" and record.id_card != personal["id_card"]:
        raise FieldError("id_card_mismatch", "身份证号码须与培训记录一致")
    return Submission(
        candidate_type=str(kind),
        category=category,
        training_hours=hours,
        documents=documents,
        **personal,
    )


def _hours_message(record: training.TrainingRecord) -> str:
    return (
        f"您在从业人员在线辅导系统已完成 {record.hours} 学时，还差 {record.missing_hours} 学时，"
        f"满 {training.REQUIRED_HOURS} 学时后才能提交考试信息"
    )


def _training_view(record: training.TrainingRecord | None) -> dict[str, Any]:
    if record is None:
        return {"found": False, "required_hours": float(training.REQUIRED_HOURS)}
    return {
        "found": True,
        "hours": float(record.hours),
        "required_hours": float(training.REQUIRED_HOURS),
        "missing_hours": float(record.missing_hours),
        "complete": record.complete,
        "category": record.category,
        "category_name": training.CATEGORY_NAMES[record.category],
        "company_name": record.company_name,
        "message": None if record.complete else _hours_message(record),
    }


async def my_request(request: Request) -> Response:
    """GET /api/requests/mine — status and the latest request (B6)."""
    user = await require_role(request, "candidate")
    async with base(request).pool.acquire() as conn:
        latest = await latest_request(conn, user.id)
        profile = await conn.fetchrow(
            "SELECT real_name, id_card, phone FROM users WHERE id = $1", user.id
        )
    return JSONResponse(
        {
            "status": latest["status"] if latest else "none",
            "request": latest,
            "profile": {
                "real_name": profile["real_name"],
                "id_card": profile["id_card"],
                "phone": profile["phone"],
            },
            # rule I1: the wizard asks for the ID photo; required while the face check is on
            "id_photo_required": base(request).settings.identity.required,
        },
        headers={"Cache-Control": "no-store"},
    )


async def my_training(request: Request) -> Response:
    """GET /api/training/me — hours done and missing for the registered ID card (B2)."""
    user = await require_role(request, "candidate")
    async with base(request).pool.acquire() as conn:
        id_card = await conn.fetchval("SELECT id_card FROM users WHERE id = $1", user.id)
        record = await training_lookup(request).lookup(conn, id_card) if id_card else None
    return JSONResponse(_training_view(record))


async def submit(request: Request) -> Response:
    """POST /api/requests — the wizard's submit: validated whole, saved in one transaction."""
    user = await require_role(request, "candidate")
    body = await json_body(request)
    now = dt.datetime.now(dt.UTC)
    async with base(request).pool.acquire() as conn:
        await _refuse_if_open(conn, user.id)
        registered: str | None = await conn.fetchval(
            "SELECT id_card FROM users WHERE id = $1", user.id
        )
        record = None
        if body.get("candidate_type") == "non_social":
            record = await _training_record(request, conn, registered or body.get("id_card"))
        try:
            sub = validate_submission(
                body, record, registered, now.date(), base(request).settings.identity.required
            )
        except FieldError as exc:
            raise ApiError(422, exc.code, exc.message) from None
        async with conn.transaction():
            await _refuse_if_open(conn, user.id)
            await _check_documents(conn, user.id, sub.documents)
            try:
                request_id = await _insert(conn, user.id, sub, now)
            except asyncpg.UniqueViolationError:  # a concurrent submit of the same candidate
                raise ApiError(409, "request_open", _OPEN_MESSAGES["pending"]) from None
        view = await load_request(conn, request_id)
    return JSONResponse({"status": "pending", "request": view}, status_code=201)


async def _refuse_if_open(conn: Any, user_id: int) -> None:
    status = await request_status(conn, user_id)
    if status in ("pending", "approved"):
        raise ApiError(409, "request_open", _OPEN_MESSAGES[status])


async def _training_record(
    request: Request, conn: Any, id_card: object
) -> training.TrainingRecord | None:
    """The training record of a (valid) ID-card number; None when there is none."""
    try:
        number = parse_id_card(id_card if isinstance(id_card, str) else "").number
    except IdCardError:
        return None  # the personal-information step reports the bad number
    return await training_lookup(request).lookup(conn, number)


_OPEN_MESSAGES = {
    "pending": "您的考试信息正在审核中，请勿重复提交",
    "approved": "您的考试信息已审核通过，无需再次提交",
}


async def _check_documents(conn: Any, user_id: int, documents: dict[str, int]) -> None:
    for role, upload_id in documents.items():
        owner = await conn.fetchval("SELECT owner_id FROM uploads WHERE id = $1", upload_id)
        if owner != user_id:  # someone else's file is reported like a missing one
            raise ApiError(422, "document_missing", f"{DOCUMENT_NAMES[role]}文件不存在，请重新上传")
        if role == "id_photo" and not await is_id_photo(conn, upload_id):
            # rule I1: only a picture the face check accepted (POST /api/uploads/id-photo)
            raise ApiError(422, "id_photo_unchecked", "证件照须通过人脸检测，请在本步骤重新上传")


async def _insert(conn: Any, user_id: int, sub: Submission, now: dt.datetime) -> int:
    request_id: int = await conn.fetchval(
        """INSERT INTO exam_requests (user_id, candidate_type, category, training_hours, real_name,
               id_card, gender, phone, company_name, company_uscc, position, status, submitted_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending', $12) RETURNING id""",
        user_id,
        sub.candidate_type,
        sub.category,
        sub.training_hours,
        sub.real_name,
        sub.id_card,
        sub.gender,
        sub.phone,
        sub.company_name,
        sub.company_uscc,
        sub.position,
        now,
    )
    await conn.executemany(
        "INSERT INTO exam_request_documents (request_id, role, upload_id) VALUES ($1, $2, $3)",
        [(request_id, role, upload_id) for role, upload_id in sub.documents.items()],
    )
    return request_id


routes = [
    Route("/api/requests/mine", my_request, methods=["GET"]),
    Route("/api/requests", submit, methods=["POST"]),
    Route("/api/training/me", my_training, methods=["GET"]),
]
