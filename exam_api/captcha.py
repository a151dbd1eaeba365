"""Image captchas (rule A5): drawn by the server with Pillow, single use, 5 minutes.

Drawing is pure (answer + random source in, PNG bytes out).  Storage is one
row per captcha in PostgreSQL holding a hash of the answer; ``take`` deletes
the row as it reads it, so a captcha can be tried once whatever the outcome.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import random
import secrets
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw, ImageFilter, ImageFont

# No 0/O, 1/I/L, 5/S, 2/Z: characters a candidate cannot tell apart are left out.
ALPHABET = "3456789ABCDEFGHJKMNPQRTUVWXY"
LENGTH = 4
LIFETIME = dt.timedelta(minutes=5)
WIDTH, HEIGHT = 132, 48


def new_answer() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalize(answer: str) -> str:
    return answer.strip().upper()


def draw(answer: str, rng: random.Random) -> bytes:
    """A PNG of ``answer``: rotated glyphs, noise lines and dots."""
    image = Image.new("RGB", (WIDTH, HEIGHT), _light(rng))
    canvas = ImageDraw.Draw(image)
    for _ in range(120):
        canvas.point((rng.randrange(WIDTH), rng.randrange(HEIGHT)), fill=_dark(rng))
    step = (WIDTH - 16) // len(answer)
    for i, char in enumerate(answer):
        font = ImageFont.load_default(size=rng.randint(28, 34))
        glyph = Image.new("RGBA", (44, 48), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((6, 2), char, font=font, fill=(*_dark(rng), 255))
        glyph = glyph.rotate(rng.uniform(-28, 28), resample=Image.Resampling.BICUBIC)
        image.paste(glyph, (8 + i * step + rng.randint(-3, 3), rng.randint(-4, 2)), glyph)
    for _ in range(4):
        points = [(rng.randrange(WIDTH), rng.randrange(HEIGHT)) for _ in range(2)]
        canvas.line(points, fill=_dark(rng), width=rng.randint(1, 2))
    image = image.filter(ImageFilter.SMOOTH)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _light(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randint(225, 250), rng.randint(225, 250), rng.randint(225, 250))


def _dark(rng: random.Random) -> tuple[int, int, int]:
    return (rng.randint(10, 120), rng.randint(10, 120), rng.randint(10, 120))


def _digest(secret: bytes, captcha_id: str, answer: str) -> str:
    return hmac.new(
        secret, f"{captcha_id}:{normalize(answer)}".encode(), hashlib.sha256
    ).hexdigest()


@dataclass(frozen=True)
class Captcha:
    captcha_id: str
    png: bytes
    expires_at: dt.datetime


async def issue(conn: Any, secret: bytes, now: dt.datetime) -> Captcha:
    """Draw a new captcha and remember its answer (hashed) for ``LIFETIME``."""
    answer = new_answer()
    captcha_id = secrets.token_urlsafe(18)
    expires_at = now + LIFETIME
    await conn.execute(
        "INSERT INTO captchas (id, answer_hash, expires_at) VALUES ($1, $2, $3)",
        captcha_id,
        _digest(secret, captcha_id, answer),
        expires_at,
    )
    png = draw(answer, random.Random(secrets.randbits(64)))
    return Captcha(captcha_id=captcha_id, png=png, expires_at=expires_at)


async def take(
    conn: Any, secret: bytes, captcha_id: str, answer: str, now: dt.datetime
) -> str | None:
    """Consume the captcha; ``None`` when the answer is right, else an error code.

    Error codes: ``captcha_missing`` (unknown or already used), ``captcha_expired``,
    ``captcha_wrong``.  The row is deleted in every case: single use.
    """
    row = await conn.fetchrow(
        "DELETE FROM captchas WHERE id = $1 RETURNING answer_hash, expires_at", captcha_id
    )
    if row is None:
        return "captcha_missing"
    if row["expires_at"] <= now:
        return "captcha_expired"
    if not hmac.compare_digest(row["answer_hash"], _digest(secret, captcha_id, answer)):
        return "captcha_wrong"
    return None


async def sweep(conn: Any, now: dt.datetime) -> int:
    """Delete expired captchas; returns how many."""
    status: str = await conn.execute("DELETE FROM captchas WHERE expires_at <= $1", now)
    return int(status.split()[-1])
