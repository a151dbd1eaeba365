"""The account component (exam_api/account_services.py): its start-up warning (rule A4)."""

from __future__ import annotations

import logging

import pytest

from exam_api.account_services import AccountServices
from proctor.settings import Settings
from tests.support.recording_sms import RecordingSmsSender


async def test_the_outbox_sender_warns_at_start_that_codes_reach_no_phone(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue #9: nobody should run candidates on the outbox by mistake."""
    services = AccountServices(settings)
    with caplog.at_level(logging.WARNING, logger="exam_api.account_services"):
        await services.start()
    await services.stop()
    (record,) = [r for r in caplog.records if r.name == "exam_api.account_services"]
    assert record.levelno == logging.WARNING
    assert "NOT sent to phones" in record.getMessage()
    assert "dev-outbox.html (administrators only)" in record.getMessage()


async def test_a_real_gateway_starts_without_the_warning(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    services = AccountServices(settings, sender=RecordingSmsSender())
    with caplog.at_level(logging.WARNING, logger="exam_api.account_services"):
        await services.start()
    await services.stop()
    assert not [r for r in caplog.records if r.name == "exam_api.account_services"]
