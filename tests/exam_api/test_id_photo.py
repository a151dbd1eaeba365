"""The ID photo of the exam request (rule I1): exactly one clear face,
checked on upload on real faces, refused in Chinese otherwise; the request
carries it, and only a picture that passed the check."""

from __future__ import annotations

import asyncpg
import cv2
import numpy as np
import pytest

from exam_api.requests import validate_submission
from tests.exam_api.test_requests import Candidate, social_body, upload
from tests.support import files, real_faces
from tests.support.accounts import (
    clear_rate_limits,
    unique_id_card,
    unique_phone,
)
from tests.support.identity import (
    client_for,
    identity_server,
    identity_settings,
    upload_id_photo,
)
from tests.support.live import LiveServer
from tests.support.papers import candidate_with_request
from tests.support.users import create_user

__all__ = ["identity_server", "identity_settings"]


def _two_faces() -> np.ndarray:
    hopper = cv2.resize(real_faces.hopper(), (300, 352))
    pair = np.full((400, 700, 3), 160, dtype=np.uint8)
    pair[24:376, 20:320] = hopper
    pair[24:376, 380:680] = real_faces.on_camera(real_faces.astronaut(), 300, 352)
    return pair


@pytest.mark.parametrize(
    ("picture", "code", "words"),
    [
        (lambda: np.full((400, 300, 3), 200, dtype=np.uint8), "id_photo_no_face", "没有检测到人脸"),
        (_two_faces, "id_photo_several_faces", "多张人脸"),
        (
            lambda: cv2.GaussianBlur(real_faces.hopper(), (0, 0), 9),
            ("id_photo_blurred", "id_photo_no_face"),
            "",
        ),
    ],
)
async def test_a_picture_without_exactly_one_clear_face_is_refused_in_chinese(
    identity_server: LiveServer, pool: asyncpg.Pool, picture: object, code: object, words: str
) -> None:
    user = await candidate_with_request(pool, "none")
    async with await client_for(identity_server.url, pool, user.id) as client:
        response = await upload_id_photo(client, picture())  # type: ignore[operator]
    assert response.status_code == 422
    assert response.json()["error"] in (code if isinstance(code, tuple) else (code,))
    assert words in response.json()["message"] and "证件照" in response.json()["message"]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM uploads WHERE owner_id = $1", user.id) == 0


async def test_a_portrait_is_kept_with_its_descriptor(
    identity_server: LiveServer, pool: asyncpg.Pool
) -> None:
    user = await candidate_with_request(pool, "none")
    async with await client_for(identity_server.url, pool, user.id) as client:
        response = await upload_id_photo(client, real_faces.astronaut())
        assert response.status_code == 201, response.text
        mine = await client.get(response.json()["url"])
        assert mine.status_code == 200 and mine.headers["content-type"] == "image/jpeg"
        pdf = await client.post("/api/uploads/id-photo", content=files.pdf_bytes())
        assert pdf.status_code == 422 and pdf.json()["error"] == "id_photo_type"
    async with pool.acquire() as conn:
        descriptor = await conn.fetchval(
            "SELECT descriptor FROM face_references WHERE upload_id = $1", response.json()["id"]
        )
    assert len(descriptor) == 128


def test_the_request_needs_the_id_photo_when_the_check_is_on() -> None:
    # rule I1 (pure): the wizard's input without an ID photo is refused
    body = {"candidate_type": "social", "category": "A", "commitment_letter": 1, "study_proof": 2}
    with pytest.raises(Exception) as refused:
        validate_submission(body, None, None, __import__("datetime").date(2026, 1, 1), True)
    assert getattr(refused.value, "code", "") == "document_missing"
    assert "证件照" in str(refused.value)


async def test_the_request_carries_a_checked_id_photo_and_nothing_else(
    identity_server: LiveServer, pool: asyncpg.Pool
) -> None:
    # rule I1; hostile: an ordinary picture upload passed off as the ID photo
    await clear_rate_limits(pool)
    id_card = unique_id_card()
    user = await create_user(pool, id_card=id_card, phone=unique_phone())
    async with await client_for(identity_server.url, pool, user.id) as http:
        c = Candidate(user.id, id_card, http)
        missing = await http.post("/api/requests", json=await social_body(c))
        assert missing.status_code == 422 and missing.json()["error"] == "document_missing"
        assert "证件照" in missing.json()["message"]
        plain = await upload(http, files.jpeg_bytes(), "照片.jpg")
        posed = await http.post("/api/requests", json=await social_body(c, id_photo=plain))
        assert posed.status_code == 422 and posed.json()["error"] == "id_photo_unchecked"
        photo = (await upload_id_photo(http, real_faces.hopper())).json()["id"]
        sent = await http.post("/api/requests", json=await social_body(c, id_photo=photo))
        assert sent.status_code == 201, sent.text
        roles = {d["role"]: d["role_name"] for d in sent.json()["request"]["documents"]}
        assert roles["id_photo"] == "证件照"  # the reviewer sees it beside the documents
