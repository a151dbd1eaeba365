"""Rule A5: the captcha is a real server-drawn picture."""

from __future__ import annotations

import io
import random

from PIL import Image

from exam_api import captcha


def test_drawing_is_a_png_of_the_expected_size() -> None:
    image = Image.open(io.BytesIO(captcha.draw("AB3K", random.Random(7))))
    assert image.format == "PNG"
    assert image.size == (captcha.WIDTH, captcha.HEIGHT)


def test_drawing_depends_on_the_answer_and_is_reproducible_for_a_seed() -> None:
    assert captcha.draw("AB3K", random.Random(7)) == captcha.draw("AB3K", random.Random(7))
    assert captcha.draw("AB3K", random.Random(7)) != captcha.draw("XY4M", random.Random(7))


def test_drawing_has_ink() -> None:
    image = Image.open(io.BytesIO(captcha.draw("WXYZ", random.Random(1)))).convert("L")
    dark = sum(1 for value in image.getdata() if value < 128)
    assert dark > 100


def test_answers_use_only_unambiguous_characters() -> None:
    for _ in range(200):
        answer = captcha.new_answer()
        assert len(answer) == captcha.LENGTH
        assert set(answer) <= set(captcha.ALPHABET)
    assert not set("0O1IL") & set(captcha.ALPHABET)


def test_answers_are_compared_case_insensitively() -> None:
    assert captcha.normalize(" ab3k ") == "AB3K"
