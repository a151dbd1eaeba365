"""What the account routes share for the app's life: the password-hashing threads and
the SMS sender (rules A4, A5).

A component with ``start()``/``stop()`` like the others in the app's lifespan.
At start it says loudly, at WARNING, when SMS codes go to the outbox instead
of to phones, so nobody runs a deployment on the outbox by mistake.
"""

from __future__ import annotations

import logging

from exam_api.identity import BuiltinProvider
from exam_api.passwords import PasswordHashing
from exam_api.sms import OutboxSender, SmsSender
from proctor.settings import Settings

log = logging.getLogger(__name__)


class AccountServices:
    def __init__(
        self,
        settings: Settings,
        sender: SmsSender | None = None,
        hashing: PasswordHashing | None = None,
    ) -> None:
        self._settings = settings
        self.sms_sender: SmsSender = sender or OutboxSender()
        self.hashing = hashing or PasswordHashing()
        self.identity = BuiltinProvider(self.hashing)

    async def start(self) -> None:
        await self.hashing.start()
        if isinstance(self.sms_sender, OutboxSender):
            log.warning("%s", outbox_warning(self._settings))

    async def stop(self) -> None:
        await self.hashing.stop()


def outbox_warning(settings: Settings) -> str:
    """The start-up warning of the outbox sender (rule A4): where the codes really go."""
    where = (
        f"{settings.public_url}/static/dev-outbox.html (administrators only) and this log"
        if settings.dev_sms_outbox
        else "this log only (PROCTOR_DEV_SMS_OUTBOX=0)"
    )
    return (
        "SMS codes are NOT sent to phones: the outbox sender keeps every message in "
        f"{where}. Configure a real SMS gateway before candidates use this server."
    )
