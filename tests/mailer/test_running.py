"""The mailer inside the API process, sending to the development sink."""

from __future__ import annotations

from pathlib import Path

from app import create_app
from models.invitation import DeliveryState, Invitation
from models.outbox import mail_queued
from tests.mailer.conftest import configured, eventually, make_invitation, parse


async def test_the_api_lifespan_runs_the_mailer_into_the_development_sink(
    settings, tmp_path: Path
) -> None:
    mail_dir = tmp_path / "mail"
    dev = configured(settings, smtp_url=None, mail_dir=str(mail_dir), mailer_poll_seconds=30)
    app = create_app(dev, manage_database=False, run_mailer=True)

    async with app.router.lifespan_context(app):
        invitation = await make_invitation("dev@example.com")
        # A long poll: only the wake-up call can make this test finish in time.
        mail_queued()

        async def delivered() -> bool:
            row = await Invitation.get(id=invitation.id)
            return row.delivery_state is DeliveryState.DELIVERED

        await eventually(delivered)

    [eml] = list(mail_dir.glob("*.eml"))
    message = parse(eml.read_bytes())
    assert message["To"] == "dev@example.com"
    assert message["X-Invitation-Id"] == str(invitation.id)
